//! `answers`: build, serve and export candidate answers (the commands come with the service).

fn main() {}
