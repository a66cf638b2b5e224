"""Salesforce history extraction as a Singer tap."""
