"""Seeded faults of the workflows: text edits of a committed workflow written to a
temporary directory, never to .github/ (features/pipeline.feature)."""
from __future__ import annotations

from pathlib import Path

from provision import errors
from provision.ci import workflow_model as model

UNKNOWN_FAULT = "unknown workflow fault {fault!r}: expected one of {known}"
FAULT_DID_NOT_APPLY = "seeded fault {fault!r} did not apply to {name}: its anchor text is not in the workflow"

# fault -> (anchor, replacement) text edits of deploy-aws-eks.yml. Each must
# apply, so a reworded workflow cannot turn a fault into a silent no-op.
FAULTS: dict[str, tuple[tuple[str, str], ...]] = {
    "template-injection": ((
        '        run: provision app deploy --env "$DEPLOY_ENV" --image-tag "$IMAGE_TAG"',
        '        run: |\n          echo "deploying ${{ github.event.head_commit.message }}"\n'
        '          provision app deploy --env "$DEPLOY_ENV" --image-tag "$IMAGE_TAG"'),),
    "unpinned-action": ((
        "uses: aws-actions/configure-aws-credentials@b47578312673ae6fa5b5096b330d9fbac3d116df # v4.2.1",
        "uses: aws-actions/configure-aws-credentials@v4"),),
    "write-all": (("\npermissions: {}\n", "\npermissions: write-all\n"),),
    "static-aws-key": ((
        "          role-session-name: deploy-",
        "          aws-access-key-id: ${{ secrets.AWS_ACCESS_KEY_ID }}\n"
        "          aws-secret-access-key: ${{ secrets.AWS_SECRET_ACCESS_KEY }}\n"
        "          role-session-name: deploy-"),),
    "cancel-in-progress": (("      cancel-in-progress: false", "      cancel-in-progress: true"),),
    # The deploy runs for pull requests too (R5.1: a push to main deploys, a pull request never does).
    "deploy-on-pull-request": (("  workflow_dispatch:\n", "  pull_request:\n  workflow_dispatch:\n"),),
    # The deploy no longer runs on a push to main.
    "push-not-main": (("  push:\n    branches: [main]\n", "  push:\n    branches: [release]\n"),),
    "pull-request-target": (
        ("  workflow_dispatch:\n", "  pull_request_target:\n  workflow_dispatch:\n"),
        ("        with:\n          persist-credentials: false\n",
         "        with:\n          ref: ${{ github.event.pull_request.head.sha }}\n"
         "          persist-credentials: false\n")),
}


def seed(fault: str, directory: Path, name: str = model.DEPLOY, source_dir: Path = model.WORKFLOWS_DIR) -> Path:
    """Write a copy of workflow `name` with `fault` applied into `directory`; returns its path."""
    if fault not in FAULTS:
        raise errors.BadInput(UNKNOWN_FAULT.format(fault=fault, known=", ".join(FAULTS)))
    text = (Path(source_dir) / name).read_text()
    for anchor, replacement in FAULTS[fault]:
        if anchor not in text:
            raise errors.BadInput(FAULT_DID_NOT_APPLY.format(fault=fault, name=name))
        text = text.replace(anchor, replacement, 1)
    out = Path(directory) / name
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    return out
