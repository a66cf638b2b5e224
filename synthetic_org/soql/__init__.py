"""The SOQL engine: a parser with Salesforce's error codes, execution over Arrow, wire rendering."""
