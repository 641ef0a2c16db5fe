//! `/api/v1/reports/...`: the case service's reports (`ReportService`), as
//! JSON, or as CSV with `?format=csv` or `Accept: text/csv` (RFC 4180, a
//! header row, UTF-8), for a spreadsheet.

use axum::{
    Json,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use docket_proto::case::v1 as pb;
use serde::Serialize;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    extract::ApiQuery,
    model::{
        CasePriority,
        reports::{
            BacklogAging, BacklogAgingQuery, CaseVolume, QueueCounts, QueueReportQuery, RepeatCases, RepeatKey,
            RepeatReportQuery, ReportFormat, ReportGranularity, ReportGrouping, ResolutionReportQuery, ResolutionTimes,
            VolumeReportQuery, period,
        },
    },
};
use crate::{GatewayState, problem::Problem, upstream::CaseClients};

pub fn routes() -> OpenApiRouter<GatewayState> {
    OpenApiRouter::new()
        .routes(routes!(get_queue_report))
        .routes(routes!(get_backlog_aging))
        .routes(routes!(get_volume_report))
        .routes(routes!(get_resolution_times))
        .routes(routes!(get_repeat_cases))
}

/// Whether the caller asked for CSV: `format` wins over `Accept`.
fn wants_csv(format: Option<ReportFormat>, headers: &HeaderMap) -> bool {
    match format {
        Some(format) => format == ReportFormat::Csv,
        None => headers
            .get_all(header::ACCEPT)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .any(|media| media.split(';').next().is_some_and(|m| m.trim().eq_ignore_ascii_case("text/csv"))),
    }
}

/// The report as JSON, or its rows as CSV named `{name}.csv`.
fn answer<T: Serialize>(
    report: T,
    csv: bool,
    name: &str,
    rows: impl FnOnce(&T) -> (Vec<&'static str>, Vec<Vec<String>>),
) -> Response {
    if !csv {
        return Json(report).into_response();
    }
    let (header_row, rows) = rows(&report);
    let mut writer = csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(Vec::new());
    let written = std::iter::once(header_row.iter().map(|h| h.to_string()).collect::<Vec<_>>())
        .chain(rows)
        .try_for_each(|row| writer.write_record(&row));
    let body = match written.map_err(|e| e.to_string()).and_then(|()| writer.into_inner().map_err(|e| e.to_string())) {
        Ok(body) => body,
        Err(error) => {
            tracing::error!(%error, "a report could not be written as CSV");
            return Problem::internal().into_response();
        }
    };
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
    if let Ok(value) = HeaderValue::from_str(&format!("inline; filename=\"{name}.csv\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

/// Open cases now, counted by status, priority, team and owner.
#[utoipa::path(get, path = "/reports/queue", tag = "reports", params(QueueReportQuery),
    responses(
        (status = OK, description = "The counts; as CSV, one row per count: `dimension,key,name,count`",
            content((QueueCounts = "application/json"), (String = "text/csv"))),
        (status = NOT_FOUND, description = "No such team", body = Problem, content_type = "application/problem+json"),
    ))]
async fn get_queue_report(
    mut clients: CaseClients,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<QueueReportQuery>,
) -> Result<Response, Problem> {
    let request = pb::GetQueueCountsRequest { team_id: query.team_id.unwrap_or_default() };
    let counts = QueueCounts::from(clients.reports.get_queue_counts(request).await?.into_inner());
    Ok(answer(counts, wants_csv(query.format, &headers), "queue", QueueCounts::csv_rows))
}

/// Open cases now, by how long they have been open.
#[utoipa::path(get, path = "/reports/backlog-aging", tag = "reports", params(BacklogAgingQuery),
    responses(
        (status = OK, description = "The buckets, youngest first; as CSV: `label,min_age_hours,max_age_hours,count`",
            content((BacklogAging = "application/json"), (String = "text/csv"))),
        (status = NOT_FOUND, description = "No such team", body = Problem, content_type = "application/problem+json"),
    ))]
async fn get_backlog_aging(
    mut clients: CaseClients,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<BacklogAgingQuery>,
) -> Result<Response, Problem> {
    let request = pb::GetBacklogAgingRequest {
        team_id: query.team_id.unwrap_or_default(),
        priorities: query.priority.into_iter().map(CasePriority::to_proto).collect(),
    };
    let aging = BacklogAging::from(clients.reports.get_backlog_aging(request).await?.into_inner());
    Ok(answer(aging, wants_csv(query.format, &headers), "backlog-aging", BacklogAging::csv_rows))
}

/// Cases created, closed, reopened and assigned per day, week or month of
/// a period (UTC), optionally by type, channel, team, priority or owner.
#[utoipa::path(get, path = "/reports/volume", tag = "reports", params(VolumeReportQuery),
    responses(
        (status = OK, description = "The counts per step; as CSV: `step,key,name,created,closed,reopened,assigned`",
            content((CaseVolume = "application/json"), (String = "text/csv"))),
    ))]
async fn get_volume_report(
    mut clients: CaseClients,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<VolumeReportQuery>,
) -> Result<Response, Problem> {
    let request = pb::GetCaseVolumeRequest {
        period: period(query.start_time, query.end_time),
        granularity: query.granularity.map(ReportGranularity::to_proto).unwrap_or_default(),
        group_by: query.group_by.map(ReportGrouping::to_proto).unwrap_or_default(),
    };
    let volume = CaseVolume::from(clients.reports.get_case_volume(request).await?.into_inner());
    Ok(answer(volume, wants_csv(query.format, &headers), "volume", CaseVolume::csv_rows))
}

/// Resolution and first-response times (mean, median, 90th percentile, in
/// minutes) and reopens over a period, optionally by type, channel, team,
/// priority or owner.
#[utoipa::path(get, path = "/reports/resolution-times", tag = "reports", params(ResolutionReportQuery),
    responses(
        (status = OK, description = "The times, the total first; as CSV one row per group, the total first",
            content((ResolutionTimes = "application/json"), (String = "text/csv"))),
    ))]
async fn get_resolution_times(
    mut clients: CaseClients,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<ResolutionReportQuery>,
) -> Result<Response, Problem> {
    let request = pb::GetResolutionTimesRequest {
        period: period(query.start_time, query.end_time),
        group_by: query.group_by.map(ReportGrouping::to_proto).unwrap_or_default(),
    };
    let times = ResolutionTimes::from(clients.reports.get_resolution_times(request).await?.into_inner());
    Ok(answer(times, wants_csv(query.format, &headers), "resolution-times", ResolutionTimes::csv_rows))
}

/// Accounts or assets whose cases keep coming back: the cases created in a
/// period within `within_days` after an earlier case of the same account
/// (or asset serial number), most repeats first.
#[utoipa::path(get, path = "/reports/repeat-cases", tag = "reports", params(RepeatReportQuery),
    responses(
        (status = OK, description = "The accounts or assets with repeats; as CSV: `key,name,cases,repeats`",
            content((RepeatCases = "application/json"), (String = "text/csv"))),
    ))]
async fn get_repeat_cases(
    mut clients: CaseClients,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<RepeatReportQuery>,
) -> Result<Response, Problem> {
    let request = pb::GetRepeatCasesRequest {
        period: period(query.start_time, query.end_time),
        within_days: query.within_days.unwrap_or_default(),
        by: query.by.map(RepeatKey::to_proto).unwrap_or_default(),
        limit: query.limit.unwrap_or_default(),
    };
    let repeats = RepeatCases::from(clients.reports.get_repeat_cases(request).await?.into_inner());
    Ok(answer(repeats, wants_csv(query.format, &headers), "repeat-cases", RepeatCases::csv_rows))
}
