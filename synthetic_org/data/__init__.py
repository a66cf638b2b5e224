"""Synthetic data by family (users, accounts, leads, opportunities and approvals, cases, activities,
setup changes, custom objects), assembled lazily by ``SyntheticOrg``."""
