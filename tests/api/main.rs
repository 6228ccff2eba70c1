//! Integration tests: the real router over real HTTP on an ephemeral port, with a fresh
//! database per test. Every test in a `db_tests!` list runs on SQLite, and again on
//! PostgreSQL when `GATEHOUSE_TEST_POSTGRES_URL` is set.

mod helpers;

/// Generates, for each named `async fn(TestApp)`, a SQLite test and a PostgreSQL test.
/// `db_tests!(with [("VAR", "value")]; a, b)` starts the apps with extra configuration.
macro_rules! db_tests {
    (with $vars:expr; $($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let app = crate::helpers::spawn_app_with(crate::helpers::Backend::Sqlite, &$vars)
                        .await
                        .expect("sqlite app");
                    super::$name(app).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(app) = crate::helpers::spawn_app_with(crate::helpers::Backend::Postgres, &$vars).await else {
                        eprintln!("GATEHOUSE_TEST_POSTGRES_URL is not set: PostgreSQL run skipped");
                        return;
                    };
                    super::$name(app).await
                }
            )*
        }
    };
    ($($name:ident),* $(,)?) => {
        db_tests!(with []; $($name),*);
    };
}

/// Like `db_tests!` for tests that build their own apps: each fn takes the `Backend`.
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(crate::helpers::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if crate::helpers::postgres_url().is_none() {
                        eprintln!("GATEHOUSE_TEST_POSTGRES_URL is not set: PostgreSQL run skipped");
                        return;
                    }
                    super::$name(crate::helpers::Backend::Postgres).await
                }
            )*
        }
    };
}

mod accounts;
mod admin;
mod authenticator;
mod breached;
mod cli;
mod credentials;
mod database_urls;
mod disable;
mod email;
mod fake_provider;
mod form_errors;
mod guards;
mod hardening;
mod health;
mod lockout;
mod metrics;
mod multi_instance;
mod oauth;
mod oauth_flow;
mod page_cache;
mod pages;
mod passkeys;
mod reauth;
mod review;
mod sessions;
mod settings;
mod smtp_sink;
mod storage;
mod two_factor;
mod view_as;
