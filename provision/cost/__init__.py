"""provision.cost"""
