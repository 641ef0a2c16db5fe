//! A measuring sink for the `events` bench, not a mail server: it speaks just
//! enough SMTP for lettre to hand an email over (no TLS, AUTH, pipelining,
//! size limits or queue), keeps no message, and records for each email only
//! when its DATA was accepted and its Subject header.

use std::{
    sync::{Arc, Mutex, PoisonError},
    time::Instant,
};

use anyhow::Context;
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::{TcpListener, TcpStream},
    task::{JoinHandle, JoinSet},
};

type Log = Arc<Mutex<Vec<(Instant, String)>>>;

/// Accepts SMTP on 127.0.0.1 until dropped.
pub struct SmtpAcceptor {
    pub port: u16,
    received: Log,
    task: JoinHandle<()>,
}

impl SmtpAcceptor {
    pub async fn start() -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await.context("binding the SMTP acceptor")?;
        let port = listener.local_addr()?.port();
        let received = Log::default();
        let log = received.clone();
        let task = tokio::spawn(async move {
            // Dropped with the task on abort, which ends every session.
            let mut sessions = JoinSet::new();
            loop {
                match listener.accept().await {
                    Ok((stream, _)) => {
                        sessions.spawn(session(stream, log.clone()));
                    }
                    Err(err) => eprintln!("SMTP acceptor: accept failed: {err}"),
                }
                while sessions.try_join_next().is_some() {}
            }
        });
        Ok(Self { port, received, task })
    }

    /// (accepted at, Subject) of every email after the first `skip`, in order.
    pub fn since(&self, skip: usize) -> Vec<(Instant, String)> {
        self.received.lock().unwrap_or_else(PoisonError::into_inner).get(skip..).unwrap_or_default().to_vec()
    }
}

impl Drop for SmtpAcceptor {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One connection: greeting, then one reply per command until QUIT or EOF.
async fn session(stream: TcpStream, log: Log) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    write.write_all(b"220 bench ESMTP\r\n").await?;
    while let Some(line) = lines.next_line().await? {
        let verb = line.split(' ').next().unwrap_or_default().to_ascii_uppercase();
        let reply: &[u8] = match verb.as_str() {
            "EHLO" | "HELO" | "MAIL" | "RCPT" | "RSET" | "NOOP" => b"250 ok\r\n",
            "DATA" => {
                write.write_all(b"354 go ahead\r\n").await?;
                let (mut subject, mut in_header) = (String::new(), true);
                loop {
                    // EOF inside DATA: the email was not handed over.
                    let Some(line) = lines.next_line().await? else { return Ok(()) };
                    if line == "." {
                        break;
                    }
                    in_header &= !line.is_empty();
                    if let Some((name, value)) = line.split_once(':')
                        && in_header
                        && name.eq_ignore_ascii_case("subject")
                    {
                        subject = value.trim().to_owned();
                    }
                }
                log.lock().unwrap_or_else(PoisonError::into_inner).push((Instant::now(), subject));
                b"250 queued\r\n"
            }
            "QUIT" => {
                write.write_all(b"221 bye\r\n").await?;
                return Ok(());
            }
            _ => b"502 not implemented\r\n",
        };
        write.write_all(reply).await?;
    }
    Ok(())
}
