//! Stopping PostgreSQL queries: when their request is dropped, and at shutdown. The time
//! budget itself is the server's `statement_timeout`, set on every pooled connection at
//! connect (no per-query cost; a statement past it fails with `57014`, classified as
//! [`kulisse_store::StoreError::Interrupted`]).
//!
//! NOTE: dropping a query's future does not stop the server: the statement runs on, and a
//! connection handed back to the pool makes its next user queue behind it (ten abandoned
//! slow filters blocked every list for minutes). A [`Lease`] dropped while its statements
//! run takes the connection out of the pool, sends the server a cancel request for it, and
//! then closes it; cancelling a connection that stays pooled could instead land on the next
//! user's statement, since a cancel request names the backend, not the statement.

use std::future::Future;

use tokio::sync::watch;
use tokio_postgres::NoTls;

/// A pooled connection used by one read; see the module docs for what dropping it does.
pub(crate) struct Lease {
    client: Option<deadpool_postgres::Client>,
}

impl Lease {
    /// Leases `client` for statements that are about to run.
    pub(crate) fn new(client: deadpool_postgres::Client) -> Lease {
        Lease {
            client: Some(client),
        }
    }

    /// The connection.
    pub(crate) fn client(&self) -> &deadpool_postgres::Client {
        self.client
            .as_ref()
            .expect("invariant: the client is only taken by release and drop")
    }

    /// The statements ended (well or not): the connection goes back to the pool.
    pub(crate) fn release(mut self) {
        drop(self.client.take());
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        let Some(client) = self.client.take() else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let client = deadpool_postgres::Object::take(client);
        let token = client.cancel_token();
        runtime.spawn(async move {
            if let Err(e) = token.cancel_query(NoTls).await {
                tracing::warn!(error = %e, "cancelling an abandoned query");
            }
            drop(client);
        });
    }
}

/// Runs `statements` (on `client`); when `stop` turns true meanwhile (the store is
/// stopping), asks the server to cancel them and waits for them to fail. On a store that
/// has stopped, new statements are cancelled as soon as they are sent.
pub(crate) async fn until_stopped<T>(
    stop: &watch::Receiver<bool>,
    client: &tokio_postgres::Client,
    statements: impl Future<Output = T>,
) -> T {
    let mut stop = stop.clone();
    let stopped = async move {
        // A closed channel (the store is gone) counts as stopped too.
        let _ = stop.wait_for(|stopping| *stopping).await;
    };
    let mut statements = std::pin::pin!(statements);
    tokio::select! {
        biased;
        out = &mut statements => out,
        () = stopped => {
            if let Err(e) = client.cancel_token().cancel_query(NoTls).await {
                tracing::warn!(error = %e, "cancelling a query at shutdown");
            }
            statements.await
        }
    }
}
