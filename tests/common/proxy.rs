//! A TCP proxy the test controls, to cut a service's connection to a server
//! (PostgreSQL today, RabbitMQ later) and restore it: real faults, no fakes.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::{
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{
        TcpListener, TcpStream,
        tcp::{OwnedReadHalf, OwnedWriteHalf},
    },
    task::AbortHandle,
};

/// One forwarded connection: its task, and whether the server still owes
/// an answer to what the client sent last.
struct Forwarded {
    task: AbortHandle,
    awaiting: Arc<AtomicBool>,
}

pub struct TcpProxy {
    pub addr: SocketAddr,
    blocked: Arc<AtomicBool>,
    connections: Arc<Mutex<Vec<Forwarded>>>,
    accept: AbortHandle,
}

impl TcpProxy {
    /// Starts forwarding a random local port to `target`.
    pub async fn start(target: SocketAddr) -> TcpProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy port");
        let addr = listener.local_addr().unwrap();
        let blocked = Arc::new(AtomicBool::new(false));
        let connections: Arc<Mutex<Vec<Forwarded>>> = Arc::default();
        let accept = {
            let blocked = blocked.clone();
            let connections = connections.clone();
            tokio::spawn(async move {
                while let Ok((inbound, _)) = listener.accept().await {
                    if blocked.load(Ordering::SeqCst) {
                        drop(inbound);
                        continue;
                    }
                    let awaiting = Arc::new(AtomicBool::new(false));
                    let flag = awaiting.clone();
                    let task = tokio::spawn(async move {
                        if let Ok(outbound) = TcpStream::connect(target).await {
                            let (from_client, to_client) = inbound.into_split();
                            let (from_server, to_server) = outbound.into_split();
                            tokio::join!(pump(from_client, to_server, &flag, true), pump(from_server, to_client, &flag, false));
                        }
                    });
                    connections.lock().unwrap().push(Forwarded { task: task.abort_handle(), awaiting });
                }
            })
            .abort_handle()
        };
        TcpProxy { addr, blocked, connections, accept }
    }

    /// Drops every open connection and refuses new ones.
    pub fn cut(&self) {
        self.blocked.store(true, Ordering::SeqCst);
        for connection in self.connections.lock().unwrap().drain(..) {
            connection.task.abort();
        }
    }

    /// Lets connections through again.
    pub fn restore(&self) {
        self.blocked.store(false, Ordering::SeqCst);
    }

    /// Waits until the server has answered whatever each open connection
    /// sent last: a request-and-answer protocol (PostgreSQL's, whose
    /// clients also ping a connection as they put it back in their pool)
    /// then has nothing in flight.
    pub async fn settled(&self) {
        super::eventually("every proxied connection to have its answer", async || {
            let connections = self.connections.lock().unwrap();
            let open = connections.iter().filter(|c| !c.task.is_finished());
            match open.filter(|c| c.awaiting.load(Ordering::SeqCst)).count() {
                0 => Ok(()),
                waiting => Err(format!("{waiting} connection(s) wait for the server")),
            }
        })
        .await;
    }
}

/// Copies one direction until it ends, marking what it forwards: the
/// client's bytes await an answer (`sent_by_client`), the server's give it.
/// The mark is set before the bytes go on, so an answer cannot come first.
async fn pump(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, awaiting: &AtomicBool, sent_by_client: bool) {
    let mut buffer = vec![0_u8; 16 * 1024];
    loop {
        let read = match from.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(read) => read,
        };
        awaiting.store(sent_by_client, Ordering::SeqCst);
        if to.write_all(&buffer[..read]).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.accept.abort();
        for connection in self.connections.lock().unwrap().drain(..) {
            connection.task.abort();
        }
    }
}
