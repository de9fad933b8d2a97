//! The series core records, by name, with the help text a scrape shows. HTTP's request
//! series and the SQLite writer's batch series are described where they are recorded
//! (`kulisse_http_*`, `kulisse_sqlite_*`).

use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};

/// Gauge: realtime clients connected to this node.
pub const REALTIME_CLIENTS: &str = "kulisse_realtime_clients";
/// Gauge: topics those clients are subscribed to, summed over the clients.
pub const REALTIME_SUBSCRIPTIONS: &str = "kulisse_realtime_subscriptions";
/// Counter, by `kind` (`record`, `resync`, `custom`): messages queued for clients' streams.
pub const REALTIME_MESSAGES: &str = "kulisse_realtime_messages_total";
/// Counter: messages a client could not take (its outbox was full, or its stream gone).
pub const REALTIME_MESSAGES_REFUSED: &str = "kulisse_realtime_messages_refused_total";
/// Histogram: time to compile one API rule against a request (every rule a request checks
/// is compiled once; the condition then runs inside the query).
pub const RULE_COMPILE: &str = "kulisse_rule_compile_seconds";
/// Gauge: mail messages waiting to be sent or retried.
pub const MAIL_QUEUE: &str = "kulisse_mail_queue";
/// Counter, by `outcome` (`sent`, `failed` after the last try, `disabled`: SMTP off).
pub const MAIL_MESSAGES: &str = "kulisse_mail_messages_total";
/// Gauge: request-log entries waiting for the log's writer.
pub const LOG_QUEUE: &str = "kulisse_log_queue";
/// Counter: request-log entries dropped (a full queue, a failed write).
pub const LOG_DROPPED: &str = "kulisse_log_entries_dropped_total";
/// Gauge, by `db` (`data`, `logs`) and `state` (`open`, `idle`): database connections.
pub const DB_CONNECTIONS: &str = "kulisse_db_connections";
/// Gauge, by `db`: the most connections the engine opens.
pub const DB_CONNECTIONS_MAX: &str = "kulisse_db_connections_max";
/// Gauge, by `db` and `op` (`read`, `write`): work waiting for a connection or thread.
pub const DB_WAITING: &str = "kulisse_db_waiting";

/// Gives the recorder the help text and unit of each series above (call once, after the
/// recorder is installed: a description given to no recorder is lost).
pub fn describe() {
    describe_gauge!(REALTIME_CLIENTS, "Realtime clients connected to this node");
    describe_gauge!(
        REALTIME_SUBSCRIPTIONS,
        "Topics this node's realtime clients are subscribed to"
    );
    describe_counter!(
        REALTIME_MESSAGES,
        "Messages queued for realtime streams, by kind"
    );
    describe_counter!(
        REALTIME_MESSAGES_REFUSED,
        "Realtime messages a client could not take (outbox full or stream gone)"
    );
    describe_histogram!(
        RULE_COMPILE,
        Unit::Seconds,
        "Time to compile one API rule against a request"
    );
    describe_gauge!(MAIL_QUEUE, "Mail messages waiting to be sent or retried");
    describe_counter!(MAIL_MESSAGES, "Mail messages by outcome");
    describe_gauge!(LOG_QUEUE, "Request-log entries waiting to be written");
    describe_counter!(LOG_DROPPED, "Request-log entries dropped");
    describe_gauge!(DB_CONNECTIONS, "Database connections, open and idle");
    describe_gauge!(DB_CONNECTIONS_MAX, "The most connections the engine opens");
    describe_gauge!(
        DB_WAITING,
        "Database work waiting for a connection (reads) or SQLite's writer (writes)"
    );
}
