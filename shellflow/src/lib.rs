//! shellflow: follows an entrypoint shell script to the command it really execs.
//!
//! (Being built: see issue 3.)
