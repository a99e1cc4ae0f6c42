"""Analysis of results: ``stats`` (IQM, bootstrap CIs over runs) and ``plots`` (figures)."""
