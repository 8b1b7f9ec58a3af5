//! The data tier: each region's database watched for its writer and its replication lag, and
//! what the request path does with that view (writes follow the writer, the RPO guard,
//! read-your-writes tokens).

pub mod tls;
