//! The commands, one file per subcommand. Each loads its settings, calls the library (measure →
//! decide → act → tell) and returns one [`Outcome`]: a report or a document, with its exit code.
//! `main.rs` prints it; nothing here prints.
//!
//! The commands that take settings (`status`, `env`, `check`, `run`, `doctor`, `prune`) start
//! from an [`Invocation`]: the flags as a settings layer, the configuration file named, and
//! where to save the settings in force.

pub mod cacheprog;
pub mod check;
pub mod doctor;
pub mod env;
pub mod gh_cache;
pub mod prune;
pub mod run;
pub mod scan;
pub mod status;
mod steps;

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::emit::{self, EmitFormat};
use crate::error::Error;
use crate::exit_codes::ExitCode;
use crate::report::Report;
use crate::settings::{Format, Layer, Settings};

/// What a command left to print, and how it ends.
pub enum Outcome {
    /// A report (`status`, `env`, `check`, `run`, `doctor`, `prune`).
    Report(Box<Rendered>),
    /// A document (`scan`, `gh-cache`).
    Document(Document),
    /// `cacheprog` answered the go command until it closed the cache.
    Served,
}

impl Outcome {
    /// The process exit code: `run`'s command's own, else the verdict's or the document's.
    pub fn process_exit_code(&self) -> u8 {
        match self {
            Outcome::Report(rendered) => rendered.report.process_exit_code(),
            Outcome::Document(document) => document.exit.code(),
            Outcome::Served => ExitCode::Ok.code(),
        }
    }
}

/// A report, how to print it, and what emitting left for stdout.
pub struct Rendered {
    pub report: Report,
    pub format: Format,
    pub emitted: emit::Delivered,
    /// `env` prints only what it emits.
    pub print_report: bool,
}

/// A document (`scan`, `gh-cache`), where it went, and the exit code.
pub struct Document {
    pub text: String,
    /// `--output`: the document was written there; `summary` goes to stderr.
    pub written_to: Option<PathBuf>,
    pub summary: String,
    /// Whether the document is JSON (SARIF included), for guarding it on its way out.
    pub json: bool,
    /// What to print on stderr after the document (what `scan --fix` did).
    pub log: String,
    /// An error to print on stderr after the document.
    pub error: Option<String>,
    pub exit: ExitCode,
}

/// How a command that takes settings was invoked.
#[derive(Debug, Default)]
pub struct Invocation {
    /// The settings the flags give.
    pub flags: Layer,
    /// `--config FILE`.
    pub config: Option<PathBuf>,
    /// `--save-settings FILE`.
    pub save_settings: Option<PathBuf>,
}

/// What a command does with the environment it resolved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Hand {
    /// Nothing is handed on (`status`, `doctor`, `prune`).
    Nothing,
    /// Hand on to the `--emit` targets and print the report (`check`, `run`).
    Emit,
    /// Hand on, to `sh` unless told otherwise, and print only that (`env`).
    EmitOnly,
}

impl Invocation {
    /// The settings in force: defaults, the configuration file, the environment, the flags.
    fn load(&self, cwd: &Path) -> anyhow::Result<(Layer, Settings)> {
        let layer = crate::settings::load_layer(self.flags.clone(), self.config.as_deref(), cwd)?;
        let settings = Settings::from_layers(layer.clone())?;
        Ok((layer, settings))
    }

    /// Loads the settings, makes the report with `make`, saves the settings when asked, and
    /// hands the environment on as `hand` says.
    fn run(
        self,
        hand: Hand,
        make: impl FnOnce(&Settings) -> anyhow::Result<Report>,
    ) -> anyhow::Result<Outcome> {
        let cwd = std::env::current_dir().context("reading the working directory")?;
        let (layer, settings) = self.load(&cwd)?;
        let mut report = make(&settings)?;
        if let Some(file) = &self.save_settings {
            report.settings_file = Some(save_settings(&layer, file, &cwd)?);
        }
        let mut formats = settings.emit.clone();
        if hand == Hand::EmitOnly && formats.is_empty() {
            formats.push(EmitFormat::Sh);
        }
        let emitted = match hand {
            Hand::Nothing => emit::Delivered::default(),
            Hand::Emit | Hand::EmitOnly => {
                emit::deliver(&formats, settings.emit_file.as_deref(), &report)?
            }
        };
        Ok(Outcome::Report(Box::new(Rendered {
            format: settings.format,
            report,
            emitted,
            print_report: hand != Hand::EmitOnly,
        })))
    }
}

/// `--save-settings`: writes `layer`'s carried settings to `file`, whole or not at all, and
/// returns the path to hand on as GO_DISK_GUARD_CONFIG. Relative paths (the file's and the
/// watched ones) are made absolute against `cwd`, the directory the
/// check ran in, so that a later command elsewhere means the same directories. The file is
/// replaced as a name (a link planted there is replaced, never written through).
fn save_settings(
    layer: &crate::settings::Layer,
    file: &Path,
    cwd: &Path,
) -> anyhow::Result<PathBuf> {
    let absolute = |p: &PathBuf| cwd.join(p);
    let list = |l: &Option<Vec<PathBuf>>| l.as_ref().map(|l| l.iter().map(absolute).collect());
    let layer = crate::settings::Layer {
        paths: list(&layer.paths),
        relocate_candidates: list(&layer.relocate_candidates),
        system_volume: layer.system_volume.as_ref().map(absolute),
        ..layer.clone()
    };
    let file = &cwd.join(file);
    let text = layer.to_yaml()?;
    let (Some(dir), Some(name)) = (file.parent(), file.file_name()) else {
        return Err(Error::Usage(format!(
            "--save-settings: {} names no file",
            crate::escape::path(file)
        ))
        .into());
    };
    let dir = crate::safefs::Dir::open(dir)
        .with_context(|| format!("--save-settings: {}", crate::escape::path(dir)))?;
    crate::safefs::replace_file(&dir, name, text.as_bytes())
        .with_context(|| format!("--save-settings: {}", crate::escape::path(file)))?;
    Ok(file.to_path_buf())
}
