"""provision.kube"""
