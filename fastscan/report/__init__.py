"""The report: the per-account table and the run's statistics, written as tables or for a terminal."""

from __future__ import annotations

from fastscan.report.report import LEAD_COLUMNS, Explanation, Report, ScanStats
from fastscan.report.tables import write_table

__all__ = ["LEAD_COLUMNS", "Explanation", "Report", "ScanStats", "write_table"]
