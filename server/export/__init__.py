"""Exporting a case file (案卷导出): every document, the audit trail and the record in one archive."""
