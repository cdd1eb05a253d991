//! Waiting for what arrives by event (a list copied by another service, figures converging at
//! the national node): a check polled until it is met or a deadline passes. The demo, the
//! scenarios, the benchmarks and the tests wait this one way.

use std::time::Duration;

/// What a check saw: the awaited value, or why it is not there yet (said if time runs out).
pub enum Check<T> {
    Done(T),
    Waiting(String),
}

/// Polls `check` every `every` until it is [`Check::Done`]; after `deadline`, fails with the
/// last reason it gave. An error of the check itself ends the wait at once.
pub async fn until<T>(
    deadline: Duration,
    every: Duration,
    mut check: impl AsyncFnMut() -> anyhow::Result<Check<T>>,
) -> anyhow::Result<T> {
    let start = tokio::time::Instant::now();
    loop {
        match check().await? {
            Check::Done(v) => return Ok(v),
            Check::Waiting(why) => {
                if start.elapsed() >= deadline {
                    anyhow::bail!("not done within {deadline:?}: {why}");
                }
            }
        }
        tokio::time::sleep(every).await;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[tokio::test]
    async fn a_check_is_polled_until_it_is_met() {
        let mut calls = 0;
        let v = until(
            Duration::from_secs(5),
            Duration::from_millis(1),
            async || {
                calls += 1;
                Ok(if calls == 3 {
                    Check::Done(calls)
                } else {
                    Check::Waiting(format!("{calls} calls"))
                })
            },
        )
        .await
        .unwrap();
        assert_eq!(v, 3);
    }

    #[tokio::test]
    async fn a_check_never_met_fails_with_its_last_reason() {
        let err = until(
            Duration::from_millis(30),
            Duration::from_millis(5),
            async || Ok::<_, anyhow::Error>(Check::<()>::Waiting("2 of 3 arrived".into())),
        )
        .await
        .unwrap_err();
        assert!(err.to_string().contains("2 of 3 arrived"), "{err}");
    }

    #[tokio::test]
    async fn an_error_of_the_check_ends_the_wait() {
        let err = until(
            Duration::from_secs(5),
            Duration::from_millis(1),
            async || Err::<Check<()>, _>(anyhow::anyhow!("connection refused")),
        )
        .await
        .unwrap_err();
        assert_eq!(err.to_string(), "connection refused");
    }
}
