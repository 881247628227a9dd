"""Constants that settings.yaml does not hold: names the provisioner gives its
own objects and markers. Every module reads them here, none restates them."""
from __future__ import annotations

# The server-side-apply field manager of every deploy, and the managed-by label value.
FIELD_MANAGER = "cloudtolocalllm-provision"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
# Annotation and label keys of the provisioner's own (their domain is the project's, not a setting).
CHECKSUM_ANNOTATION = "cloudtolocalllm.online/config-checksum"
OFFLINE_VOLUME_LABEL = "cloudtolocalllm.online/offline-volume"
# which Cloudflare Origin CA certificate the origin certificate Secret holds (provision dns origin-cert)
ORIGIN_CA_ID_ANNOTATION = "cloudtolocalllm.online/origin-ca-certificate-id"
# Image-tag prefixes that the offline cluster's kwok stages turn into a never-Ready
# or a crash-looping pod: the seeded faults the deploy engine cannot see coming.
NEVER_READY_TAG = "badbad"
CRASHLOOP_TAG = "deadde"
