use clap::Parser;

fn main() {
    let cli = wxsend::cli::Cli::parse();
    std::process::exit(wxsend::cli::run(cli).code());
}
