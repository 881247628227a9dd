"""provision.backup"""
