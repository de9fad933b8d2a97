//! Accepting connections: each new connection's first request is looked at (without
//! reading it) and the connection goes either to the lean driver for realtime streams
//! (`event_stream.rs`) or to hyper, through `axum::serve`, for everything else.

mod event_stream;

use std::net::SocketAddr;
use std::time::Duration;

use axum::ServiceExt as _;
use axum::serve::ListenerExt as _;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::App;

/// Serves `app` on `listener` until `shutdown` resolves; in-flight requests then finish.
/// (Realtime streams end when the realtime service closes.)
///
/// # Errors
/// When the listener's address cannot be read.
pub async fn serve(
    listener: TcpListener,
    app: App,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let sorted = Sorted::start(listener, app.clone())?;
    axum::serve(
        // A tapped listener's address is what axum hands handlers as `ConnectInfo`. No
        // Nagle: a body written in several pieces (a file) must not wait for an ACK.
        sorted.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        }),
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

/// The connections for hyper, after the realtime streams were taken out. Accepting runs
/// in its own task (a connection waits there, not in the accept loop, for its first
/// bytes); dropping this stops it and closes the socket.
struct Sorted {
    connections: mpsc::Receiver<(TcpStream, SocketAddr)>,
    local: SocketAddr,
    accepting: JoinHandle<()>,
}

impl Sorted {
    fn start(listener: TcpListener, app: App) -> std::io::Result<Sorted> {
        let local = listener.local_addr()?;
        let (send, connections) = mpsc::channel(256);
        let accepting = tokio::spawn(async move {
            loop {
                let (tcp, peer) = match listener.accept().await {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        // Out of file descriptors and the like: wait, as axum::serve does.
                        tracing::warn!(error = %e, "accepting a connection failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let (send, app) = (send.clone(), app.clone());
                tokio::spawn(async move {
                    if let Some(tcp) = event_stream::serve_or_return(tcp, peer, &app).await {
                        let _ = send.send((tcp, peer)).await;
                    }
                });
            }
        });
        Ok(Sorted {
            connections,
            local,
            accepting,
        })
    }
}

impl Drop for Sorted {
    fn drop(&mut self) {
        self.accepting.abort();
    }
}

impl axum::serve::Listener for Sorted {
    type Io = TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (TcpStream, SocketAddr) {
        match self.connections.recv().await {
            Some(connection) => connection,
            // The accept task is gone (it never ends on its own): nothing will come.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        Ok(self.local)
    }
}
