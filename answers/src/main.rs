//! `answers`: build, serve and export candidate answers.

fn main() {}
