"""`kubectl dimini`: a kubectl plugin (console script `kubectl-dimini`) for DiminiStacks.

status, backup, restore, psql and logs, built on the operator's own names (CRD, labels,
annotations, status model): the plugin can never disagree with the operator it talks to.
"""
