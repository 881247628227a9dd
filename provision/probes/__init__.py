"""Probes the live scenarios and `provision verify` share (the final verification, seed task 20).

health.py: workloads and Services as the API reports them; pods.py: checks inside the pods (testinfra's
kubectl backend); controlplane.py: the local control plane's processes (testinfra's local backend);
requests.py: the end-to-end request path through the domains. Each returns graded Findings.
"""
