//! ONNX Runtime inference: the process-wide runtime (loaded once from the
//! configured library) and one session per running instance, run on the
//! instance's own worker thread, never on the async runtime.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use ort::session::Session;

/// One output tensor, copied out of the session.
#[derive(Debug, Clone, PartialEq)]
pub struct Output {
    pub shape: Vec<i64>,
    pub data: Vec<f32>,
}

impl Output {
    /// The view the decoders take.
    pub fn view(&self) -> crate::detect::OutputTensor<'_> {
        crate::detect::OutputTensor { shape: &self.shape, data: &self.data }
    }
}

/// A loaded model.
#[derive(Debug)]
pub struct Model {
    session: Session,
    input_name: String,
    /// Model input size (NCHW: width, height).
    pub width: u32,
    pub height: u32,
}

static ENVIRONMENT: OnceLock<Result<ort::environment::Environment, String>> = OnceLock::new();

/// Loads ONNX Runtime from `library` (once per process; later calls reuse
/// the first result).
fn environment(library: &Path) -> Result<&'static ort::environment::Environment, String> {
    ENVIRONMENT
        .get_or_init(|| {
            ort::init_from(library)
                .map_err(|e| format!("cannot load ONNX Runtime from {}: {e}", library.display()))?
                .with_name("rt-server")
                .build()
                .map_err(|e| format!("cannot start ONNX Runtime: {e}"))
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// Where the model and the runtime live, and how to run them.
#[derive(Debug, Clone)]
pub struct ModelOptions {
    pub model: PathBuf,
    pub library: PathBuf,
    /// ONNX Runtime intra-op threads per instance.
    pub threads: usize,
}

impl Model {
    pub fn load(opts: &ModelOptions) -> Result<Self, String> {
        if opts.model.as_os_str().is_empty() {
            return Err("no detector model is configured (detector.model in rtconfig.json, \
                        --model or RT_MODEL_PATH)"
                .into());
        }
        if opts.library.as_os_str().is_empty() {
            return Err("no ONNX Runtime library is configured (detector.onnxruntime in \
                        rtconfig.json, --onnxruntime or ORT_DYLIB_PATH)"
                .into());
        }
        if !opts.model.is_file() {
            return Err(format!("model file {} not found", opts.model.display()));
        }
        let env = environment(&opts.library)?;
        let session = Session::builder(env)
            .and_then(|b| b.with_log_level(ort::logging::LogLevel::Error).map_err(Into::into))
            .and_then(|b| b.with_intra_threads(opts.threads.max(1)).map_err(Into::into))
            .and_then(|mut b| b.commit_from_file(&opts.model))
            .map_err(|e| format!("cannot load model {}: {e}", opts.model.display()))?;
        let input = session.inputs().first().ok_or("the model has no input")?;
        let input_name = input.name().to_string();
        let shape = input
            .dtype()
            .tensor_shape()
            .map(|s| s.iter().copied().collect::<Vec<i64>>())
            .ok_or("the model's input is not a tensor")?;
        let [_, c, h, w] = shape[..] else {
            return Err(format!("the model's input must be NCHW, got shape {shape:?}"));
        };
        if c != 3 || h <= 0 || w <= 0 {
            return Err(format!(
                "the model's input must be [N, 3, H, W] with fixed H and W, got {shape:?}"
            ));
        }
        Ok(Model { session, input_name, width: w as u32, height: h as u32 })
    }

    /// Runs the model on one NCHW float frame.
    pub fn run(&mut self, chw: &[f32]) -> Result<Vec<Output>, String> {
        let shape = [1usize, 3, self.height as usize, self.width as usize];
        let tensor =
            ort::value::TensorRef::from_array_view((shape, chw)).map_err(|e| e.to_string())?;
        let outputs = self
            .session
            .run(ort::inputs![self.input_name.as_str() => tensor])
            .map_err(|e| format!("inference failed: {e}"))?;
        let mut out = Vec::with_capacity(outputs.len());
        for (_, value) in outputs.iter() {
            let (shape, data) = value.try_extract_tensor::<f32>().map_err(|e| e.to_string())?;
            out.push(Output { shape: shape.iter().copied().collect(), data: data.to_vec() });
        }
        Ok(out)
    }
}
