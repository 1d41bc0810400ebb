"""Operators for SigmaMind calls: a campaign's results, exported where the data team needs them."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow_provider_sigmamind.call_export import Progress, check_format, write_calls
from airflow_provider_sigmamind.compat import BaseOperator
from airflow_provider_sigmamind.defaults import DEFAULT_CONN_ID
from airflow_provider_sigmamind.exceptions import SigmaMindInvalidInputError
from airflow_provider_sigmamind.hooks.sigmamind import SigmaMindHook
from airflow_provider_sigmamind.paths import validate_campaign_id

if TYPE_CHECKING:
    from airflow_provider_sigmamind.compat import Context, ObjectStoragePath

__all__ = ["ExportCampaignCallsOperator"]

#: Calls asked for per list request by the export (the API documents no maximum).
EXPORT_PAGE_SIZE = 500


class ExportCampaignCallsOperator(BaseOperator):
    """Write every call of one campaign to a file (JSON Lines, CSV or Parquet) in any object store.

    The calls are read page by page and written as they come, so memory stays bounded however many
    there are; the task logs its progress (calls exported, calls and pages read, calls per second)
    every ``progress_interval`` seconds. SigmaMind's call list has no campaign filter: every call
    of the account is read and the campaign's own are kept (see
    :meth:`~airflow_provider_sigmamind.hooks.sigmamind.SigmaMindHook.iter_campaign_calls`).

    The file appears whole or not at all: it is written under a hidden temporary name beside
    ``path`` and moved onto it once complete, so a rerun replaces the previous file and a crash
    never leaves half a file under the real name. Columns, formats and how to load the file into a
    warehouse table: ``docs/results.md``.

    The XCom ``return_value`` is small: ``{"path", "format", "campaignId", "calls", "byStatus",
    "byTerminationReason", "callsWithDuration", "totalDurationSeconds", "medianDurationSeconds"}``.

    :param campaign_id: the campaign whose calls to export (templated).
    :param path: where to write: an ``ObjectStoragePath`` or a URL such as
        ``"file:///data/calls-{{ ds }}.jsonl"`` or ``"s3://bucket/calls/{{ ds }}.parquet"`` (a plain
        absolute path is a local file; a name ending in ``.gz`` compresses JSON Lines and CSV) (templated).
    :param format: ``"jsonl"``, ``"csv"`` or ``"parquet"`` (Parquet needs ``pyarrow`` on the worker).
    :param storage_conn_id: the Airflow connection of the object store (``aws_default``...), for a
        URL ``path``; ``None`` uses the store's default credentials (templated).
    :param page_size: calls per list request.
    :param progress_interval: seconds between two progress lines in the log.
    :param sigmamind_conn_id: the ``sigmamind`` connection to use (templated).
    """

    template_fields: Sequence[str] = ("campaign_id", "path", "storage_conn_id", "sigmamind_conn_id")
    ui_color = "#e6f4ea"

    def __init__(
        self,
        *,
        campaign_id: str,
        path: str | ObjectStoragePath,
        format: str = "jsonl",
        storage_conn_id: str | None = None,
        page_size: int = EXPORT_PAGE_SIZE,
        progress_interval: float = 30.0,
        sigmamind_conn_id: str = DEFAULT_CONN_ID,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        check_format(format)
        if isinstance(page_size, bool) or not isinstance(page_size, int) or page_size < 1:
            raise ValueError(f"page_size must be a whole number >= 1, got {page_size!r}")
        self.campaign_id = campaign_id
        self.path = path
        self.format = format
        self.storage_conn_id = storage_conn_id
        self.page_size = page_size
        self.progress_interval = progress_interval
        self.sigmamind_conn_id = sigmamind_conn_id

    @cached_property
    def hook(self) -> SigmaMindHook:
        """The hook for ``sigmamind_conn_id``."""
        return SigmaMindHook(sigmamind_conn_id=self.sigmamind_conn_id)

    def execute(self, context: Context) -> dict[str, Any]:
        campaign_id = validate_campaign_id(self.campaign_id)
        fmt = check_format(self.format)
        target = self.target()
        self.log.info("Exporting the calls of campaign %r to %s (%s)", campaign_id, target, fmt)
        with self.hook as hook:
            listing = hook.iter_campaign_calls(campaign_id, page_size=self.page_size)
            progress = Progress(listing, self.log, f"campaign {campaign_id!r}", every=self.progress_interval)
            summary = write_calls(progress, target, fmt)
            progress.report(done=True)
        result = {"path": str(target), "format": fmt, "campaignId": campaign_id, **summary.as_dict()}
        self.log.info(
            "Wrote %d calls to %s: %s; median duration %ss",
            summary.calls,
            target,
            ", ".join(f"{count} {status}" for status, count in result["byStatus"].items()) or "no calls",
            result["medianDurationSeconds"],
        )
        return result

    def target(self) -> ObjectStoragePath:
        """``path`` as an ``ObjectStoragePath`` (imported here, so this module imports on any Airflow)."""
        from airflow_provider_sigmamind.compat import ObjectStoragePath  # airflow.io.path on Airflow 2

        path = self.path
        if isinstance(path, ObjectStoragePath):
            target = path
        elif isinstance(path, str) and path.strip():
            text = path.strip()
            if "://" not in text:
                if not text.startswith("/"):
                    raise SigmaMindInvalidInputError(f"path must be a URL or an absolute path, got {text!r}")
                text = "file://" + text
            if text.endswith("/"):
                raise SigmaMindInvalidInputError(f"path names a directory ({text!r}); give the file's name")
            target = ObjectStoragePath(text, conn_id=self.storage_conn_id)
        else:
            raise SigmaMindInvalidInputError(f"path must be an ObjectStoragePath or a URL, got {path!r}")
        if target.protocol in ("", "file"):
            target.parent.mkdir(parents=True, exist_ok=True)
        return target
