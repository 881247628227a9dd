"""provision.tls"""
