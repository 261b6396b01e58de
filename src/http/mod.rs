//! HTTP/1.x request correlation: parsing request and status lines from the first bytes of
//! socket I/O, tying each file syscall to the request its thread was serving, and each line
//! the server wrote to its error log to the request it was written for.

pub mod correlate;
#[cfg(test)]
mod correlate_tests;
pub mod errlog;
pub mod fastcgi;
pub mod parse;
pub mod redact;
pub mod urlmatch;
