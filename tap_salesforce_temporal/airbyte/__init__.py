"""The tap as an Airbyte source (``source-salesforce-temporal``): the same Singer tap, run as a
subprocess, its messages translated to the Airbyte protocol (see ``protocol.py``)."""
