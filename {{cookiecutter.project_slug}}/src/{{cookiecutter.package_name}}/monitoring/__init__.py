"""Monitoring: service metrics, prediction log and drift reports."""
