"""(being written)"""
STEPS: dict = {}
