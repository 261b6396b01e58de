//! HTTP/1.x request correlation: parsing request and status lines from the first bytes of
//! socket I/O, and tying each file syscall to the request its thread was serving.

pub mod correlate;
#[cfg(test)]
mod correlate_tests;
pub mod parse;
pub mod redact;
pub mod urlmatch;
