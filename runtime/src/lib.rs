//! integ-runtime: the small async runtime that both of integ's back ends
//! target — the interpreter and the generated Rust.
//!
//! It will hold, once and for both: the value model and decoding by declared
//! type, the HTTP client (reqwest with rustls), auth schemes, policies
//! (timeouts, retries with backoff and `Retry-After`, circuit breakers, rate
//! limits), pagination, the state store (checkpoints and dead letters in
//! embedded SQLite), the webhook server, the scheduler and the natives of the
//! standard library. The contract it implements is `spec.md` at the root of
//! the repository.
//!
//! Dependencies point one way: this crate knows nothing of the compiler.
