//! A real SMTP server for tests: aiosmtpd (Python), storing what it accepts
//! in a Maildir the test reads. It can be stopped and started again on the
//! same port to cut the mail path.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::{
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::Duration,
};

pub struct SmtpSink {
    pub port: u16,
    dir: tempfile::TempDir,
    process: Option<Child>,
}

/// One email as the SMTP server received it.
#[derive(Debug, Clone)]
pub struct Received {
    /// Envelope recipients.
    pub rcpt_to: Vec<String>,
    pub raw: String,
}

impl Received {
    /// The value of the first header `name` (case-insensitive), unfolded.
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.raw.split("\n\n").next().unwrap_or_default().replace("\r\n", "\n");
        let mut value: Option<String> = None;
        for line in head.lines() {
            if let Some(current) = value.as_mut() {
                if line.starts_with(' ') || line.starts_with('\t') {
                    current.push(' ');
                    current.push_str(line.trim());
                    continue;
                }
                break;
            }
            if let Some((key, rest)) = line.split_once(':')
                && key.eq_ignore_ascii_case(name)
            {
                value = Some(rest.trim().to_owned());
            }
        }
        value
    }

    pub fn subject(&self) -> String {
        let raw = self.header("Subject").unwrap_or_default();
        let header = format!("Subject: {raw}\n\n");
        let parsed = mail_parser::MessageParser::default().parse(header.as_bytes());
        parsed.and_then(|m| m.subject().map(str::to_owned)).unwrap_or(raw)
    }

    pub fn body(&self) -> String {
        let parsed = mail_parser::MessageParser::default().parse(self.raw.as_bytes()).expect("a parseable email");
        parsed.body_text(0).map(|b| b.into_owned()).unwrap_or_default()
    }
}

impl SmtpSink {
    /// Sends an app's emails here: `TestApp::spawn_with(backend, |s| sink.receive_from(s))`.
    pub fn receive_from(&self, settings: &mut docket::settings::Settings) {
        settings.notification.transport = docket_notification::config::MailTransportKind::Smtp;
        settings.notification.smtp_port = self.port;
    }

    pub async fn start() -> SmtpSink {
        let mut sink = SmtpSink { port: super::free_port(), dir: tempfile::tempdir().unwrap(), process: None };
        sink.resume().await;
        sink
    }

    pub fn maildir(&self) -> PathBuf {
        self.dir.path().join("maildir")
    }

    /// Starts the server (again) on its port.
    pub async fn resume(&mut self) {
        let child = Command::new("python3")
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{}", self.port), "-c", "aiosmtpd.handlers.Mailbox"])
            .arg(self.maildir())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("python3 runs");
        self.process = Some(child);
        let port = self.port;
        super::eventually_within(Duration::from_secs(10), &format!("the test SMTP server to listen on port {port}"), async || {
            if super::listening(port).await {
                return Ok(());
            }
            if let Some(child) = self.process.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                let mut stderr = String::new();
                if let Some(mut pipe) = child.stderr.take() {
                    use std::io::Read;
                    let _ = pipe.read_to_string(&mut stderr);
                }
                panic!(
                    "the test SMTP server (aiosmtpd) exited with {status}: {stderr}\nInstall it with: python3 -m pip install aiosmtpd"
                );
            }
            Err("not listening yet")
        })
        .await;
    }

    /// Stops the server: connections to its port are refused.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.process.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Everything received so far, oldest first.
    pub fn received(&self) -> Vec<Received> {
        let Ok(entries) = std::fs::read_dir(self.maildir().join("new")) else { return Vec::new() };
        let mut files: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
        files.sort_by_key(|path| std::fs::metadata(path).and_then(|m| m.modified()).ok());
        files
            .into_iter()
            .filter_map(|path| std::fs::read_to_string(path).ok())
            .map(|raw| {
                let rcpt_to = raw
                    .lines()
                    .filter_map(|l| l.strip_prefix("X-RcptTo: "))
                    .flat_map(|v| v.split(',').map(|s| s.trim().to_owned()).collect::<Vec<_>>())
                    .collect();
                Received { rcpt_to, raw }
            })
            .collect()
    }

    /// Waits until at least `count` emails arrived.
    pub async fn wait_for(&self, count: usize, within: Duration) -> Vec<Received> {
        super::eventually_within(within, &format!("{count} emails"), async || {
            let received = self.received();
            if received.len() >= count {
                Ok(received)
            } else {
                Err(format!("got {}: {:?}", received.len(), received.iter().map(Received::subject).collect::<Vec<_>>()))
            }
        })
        .await
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.stop();
    }
}
