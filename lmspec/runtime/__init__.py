"""Executing a Plan: Luigi tasks over per-kind executors, atomic outputs, leases, catalog records."""
