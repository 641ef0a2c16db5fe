//! Reading a Docket process's Prometheus metrics, as Prometheus does.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The body of `GET /metrics` on 127.0.0.1:`port`.
pub async fn scrape(port: u16) -> Result<String, String> {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.map_err(|err| err.to_string())?;
    stream.write_all(b"GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").await.map_err(|err| err.to_string())?;
    let mut response = String::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_string(&mut response))
        .await
        .map_err(|_| "no answer within 5 s".to_owned())?
        .map_err(|err| err.to_string())?;
    let (head, body) = response.split_once("\r\n\r\n").ok_or("no HTTP response")?;
    if !head.starts_with("HTTP/1.") || !head.contains(" 200 ") {
        return Err(format!("answered {head}"));
    }
    Ok(body.to_owned())
}

/// The value of the sample `name{labels…}` (each label as `key="value"`;
/// other labels may be there too).
pub fn sample(text: &str, name: &str, labels: &[&str]) -> Option<f64> {
    text.lines().filter(|line| !line.starts_with('#')).find_map(|line| {
        let (series, value) = line.rsplit_once(' ')?;
        let (metric, rest) = series.split_once('{').unwrap_or((series, ""));
        (metric == name && labels.iter().all(|label| rest.contains(label))).then(|| value.parse().ok()).flatten()
    })
}
