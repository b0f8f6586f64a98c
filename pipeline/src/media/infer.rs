//! ONNX Runtime inference: the process-wide runtime (loaded once from the
//! configured library) and a model session, run by the inference service's
//! threads ([`super::service`]), never on the async runtime.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use ort::session::Session;

use super::error::DetectorError;

/// One output tensor, copied out of the session into memory that is
/// reused from frame to frame (a fresh 1.7 MB for NanoDet-m's outputs on
/// every frame was page faults on the session's thread and unmapping on
/// the instance's).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Output {
    pub shape: Vec<i64>,
    pub data: Vec<f32>,
}

impl Output {
    /// The view the decoders take.
    pub fn view(&self) -> crate::detect::OutputTensor<'_> {
        crate::detect::OutputTensor { shape: &self.shape, data: &self.data }
    }

    /// Makes this output `shape` and `data`, in the memory it has.
    fn set(&mut self, shape: &[i64], data: &[f32]) {
        self.shape.clear();
        self.shape.extend_from_slice(shape);
        self.data.clear();
        self.data.extend_from_slice(data);
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
    /// The most frames one run takes: 1 for a model whose batch dimension
    /// is fixed at 1, unbounded for a dynamic one.
    pub max_batch: usize,
    /// The input of a run of several frames, reused from run to run.
    batch: Vec<f32>,
}

static ENVIRONMENT: OnceLock<Result<ort::environment::Environment, String>> = OnceLock::new();

/// Loads ONNX Runtime from `library` (once per process; later calls reuse
/// the first result, its failure kept as text since `ort::Error` is not
/// `Clone`).
fn environment(library: &Path) -> Result<&'static ort::environment::Environment, DetectorError> {
    ENVIRONMENT
        .get_or_init(|| {
            ort::init_from(library)
                .map_err(|e| e.to_string())?
                .with_name("rt-server")
                .build()
                .map_err(|e| format!("cannot start it: {e}"))
        })
        .as_ref()
        .map_err(|message| DetectorError::Runtime {
            library: library.to_owned(),
            message: message.clone(),
        })
}

/// Where the model and the runtime live, and how to run them.
#[derive(Debug, Clone)]
pub struct ModelOptions {
    pub model: PathBuf,
    pub library: PathBuf,
    /// ONNX Runtime intra-op threads of the session.
    pub threads: usize,
    /// Whether the session's threads spin while they wait for work between
    /// the steps of a run (ONNX Runtime's default): fastest for a session
    /// that has the cores to itself; where other work shares them, what
    /// spins is taken from it.
    pub spin: bool,
    /// Where the model runs.
    pub provider: Provider,
}

/// Where the model runs (`detector.execution_provider`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExecutionProvider {
    /// ONNX Runtime's CPU provider.
    #[default]
    Cpu,
    /// NVIDIA GPUs: ONNX Runtime's CUDA provider, from the library of an
    /// `onnxruntime-gpu` build (with CUDA and cuDNN on the host).
    Cuda,
}

/// The provider and what happens when it cannot be used.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Provider {
    pub kind: ExecutionProvider,
    /// When the provider cannot be used: run on the CPU (with a warning)
    /// instead of failing the load (`detector.cpu_fallback`).
    pub cpu_fallback: bool,
}

/// What a session registers: the CPU alone, or CUDA, failing the load
/// when CUDA cannot be used unless CPU fallback is allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Registration {
    CpuOnly,
    Cuda { error_on_failure: bool },
}

impl Provider {
    pub(crate) fn registration(self) -> Registration {
        match self.kind {
            ExecutionProvider::Cpu => Registration::CpuOnly,
            ExecutionProvider::Cuda => Registration::Cuda { error_on_failure: !self.cpu_fallback },
        }
    }
}

impl Model {
    pub fn load(opts: &ModelOptions) -> Result<Self, DetectorError> {
        if opts.model.as_os_str().is_empty() {
            return Err(DetectorError::NoModel);
        }
        if opts.library.as_os_str().is_empty() {
            return Err(DetectorError::NoRuntime);
        }
        if !opts.model.is_file() {
            return Err(DetectorError::ModelMissing(opts.model.clone()));
        }
        let env = environment(&opts.library)?;
        let base = || {
            Session::builder(env)
                .and_then(|b| b.with_log_level(ort::logging::LogLevel::Error).map_err(Into::into))
                .and_then(|b| b.with_intra_threads(opts.threads.max(1)).map_err(Into::into))
                .and_then(|b| b.with_intra_op_spinning(opts.spin).map_err(Into::into))
                .map_err(|source| DetectorError::Load { path: opts.model.clone(), source })
        };
        let mut builder = match opts.provider.registration() {
            Registration::CpuOnly => base()?,
            Registration::Cuda { error_on_failure } => {
                let cuda = ort::ep::CUDA::default().build().error_on_failure();
                match base()?.with_execution_providers([cuda]) {
                    Ok(b) => b,
                    Err(e) => {
                        let e = DetectorError::Provider {
                            provider: "cuda",
                            library: opts.library.clone(),
                            message: e.to_string(),
                        };
                        if error_on_failure {
                            return Err(e);
                        }
                        tracing::warn!(
                            error = %crate::error::chain(&e),
                            "running on the CPU instead (detector.cpu_fallback)"
                        );
                        base()?
                    }
                }
            }
        };
        let session = builder
            .commit_from_file(&opts.model)
            .map_err(|source| DetectorError::Load { path: opts.model.clone(), source })?;
        let input = session
            .inputs()
            .first()
            .ok_or_else(|| DetectorError::Input("the model has no input".into()))?;
        let input_name = input.name().to_string();
        let shape =
            input
                .dtype()
                .tensor_shape()
                .map(|s| s.iter().copied().collect::<Vec<i64>>())
                .ok_or_else(|| DetectorError::Input("the model's input is not a tensor".into()))?;
        let [n, c, h, w] = shape[..] else {
            return Err(DetectorError::Input(format!("it must be NCHW, got shape {shape:?}")));
        };
        if c != 3 || h <= 0 || w <= 0 {
            return Err(DetectorError::Input(format!(
                "it must be [N, 3, H, W] with fixed H and W, got {shape:?}"
            )));
        }
        let max_batch = batch_limit(n).ok_or_else(|| {
            DetectorError::Input(format!(
                "its batch dimension is fixed at {n}: export it with a batch of 1 or a dynamic \
                 one, got {shape:?}"
            ))
        })?;
        Ok(Model {
            session,
            input_name,
            width: w as u32,
            height: h as u32,
            max_batch,
            batch: Vec::new(),
        })
    }

    /// Runs the model on NCHW float frames (at most [`Model::max_batch`]),
    /// in one run, and copies each frame's outputs into its slot of
    /// `outputs` (one per frame, their memory reused). On failure no slot
    /// is changed.
    pub fn run(
        &mut self,
        frames: &[&[f32]],
        outputs: &mut [Vec<Output>],
    ) -> Result<(), DetectorError> {
        let n = frames.len();
        let per_frame = 3 * self.height as usize * self.width as usize;
        if n == 0
            || n > self.max_batch
            || n != outputs.len()
            || frames.iter().any(|f| f.len() != per_frame)
        {
            let lengths: Vec<usize> = frames.iter().map(|f| f.len()).collect();
            let most = if self.max_batch == usize::MAX {
                "1 or more".to_string()
            } else {
                format!("1 to {}", self.max_batch)
            };
            return Err(DetectorError::Input(format!(
                "a run takes {most} frames of {per_frame} values (and a slot for each one's \
                 outputs), got {lengths:?} and {} slots",
                outputs.len()
            )));
        }
        let input: &[f32] = if let [one] = frames {
            one
        } else {
            self.batch.clear();
            for f in frames {
                self.batch.extend_from_slice(f);
            }
            &self.batch
        };
        let shape = [n, 3, self.height as usize, self.width as usize];
        let tensor = ort::value::TensorRef::from_array_view((shape, input))
            .map_err(DetectorError::Inference)?;
        let values = self
            .session
            .run(ort::inputs![self.input_name.as_str() => tensor])
            .map_err(DetectorError::Inference)?;
        let mut tensors = Vec::with_capacity(values.len());
        for value in values.keys().filter_map(|name| values.get(name)) {
            let (shape, data) =
                value.try_extract_tensor::<f32>().map_err(DetectorError::Inference)?;
            tensors.push((&shape[..], data));
        }
        split_batch(&tensors, outputs)
    }
}

/// The most frames a run of a model whose input's batch dimension is `n`
/// takes: 1 for a fixed batch of 1, unbounded for a dynamic one (any value
/// below 1); `None` for a fixed batch of several frames, which the service
/// could not fill.
fn batch_limit(n: i64) -> Option<usize> {
    match n {
        1 => Some(1),
        n if n < 1 => Some(usize::MAX),
        _ => None,
    }
}

/// The output tensors (shape, values) of a run of `frames.len()` frames,
/// copied into each frame's slot, every one with a batch dimension of 1
/// when there are several. Checked before anything is copied: on failure
/// no slot is changed.
fn split_batch(
    tensors: &[(&[i64], &[f32])],
    frames: &mut [Vec<Output>],
) -> Result<(), DetectorError> {
    let n = frames.len();
    if n > 1 {
        for (i, (shape, data)) in tensors.iter().enumerate() {
            if shape.first() != Some(&(n as i64)) || data.len() % n != 0 {
                return Err(DetectorError::Batch(format!(
                    "output {i} has shape {shape:?} for a run of {n} frames"
                )));
            }
        }
    }
    for (k, frame) in frames.iter_mut().enumerate() {
        frame.resize_with(tensors.len(), Output::default);
        for ((shape, data), out) in tensors.iter().zip(frame.iter_mut()) {
            let per_frame = data.len() / n;
            out.set(shape, &data[k * per_frame..(k + 1) * per_frame]);
            if n > 1 {
                out.shape[0] = 1;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(model: &str, library: &str) -> ModelOptions {
        ModelOptions {
            model: model.into(),
            library: library.into(),
            threads: 1,
            spin: false,
            provider: Provider::default(),
        }
    }

    #[test]
    fn the_provider_decides_what_a_session_registers() {
        let cases = [
            (ExecutionProvider::Cpu, false, Registration::CpuOnly),
            (ExecutionProvider::Cpu, true, Registration::CpuOnly),
            (ExecutionProvider::Cuda, false, Registration::Cuda { error_on_failure: true }),
            (ExecutionProvider::Cuda, true, Registration::Cuda { error_on_failure: false }),
        ];
        for (kind, cpu_fallback, want) in cases {
            assert_eq!(
                Provider { kind, cpu_fallback }.registration(),
                want,
                "{kind:?} {cpu_fallback}"
            );
        }
        assert_eq!(Provider::default().kind, ExecutionProvider::Cpu);
    }

    #[test]
    fn execution_providers_are_named_in_lowercase() {
        for (text, want) in
            [("\"cpu\"", ExecutionProvider::Cpu), ("\"cuda\"", ExecutionProvider::Cuda)]
        {
            assert_eq!(serde_json::from_str::<ExecutionProvider>(text).unwrap(), want);
        }
        let e = serde_json::from_str::<ExecutionProvider>("\"gpu\"").unwrap_err().to_string();
        assert!(e.contains("unknown variant `gpu`, expected `cpu` or `cuda`"), "{e}");
    }

    #[test]
    fn a_batch_dimension_fixed_at_one_or_dynamic_is_accepted() {
        for (n, want) in [(1, Some(1)), (-1, Some(usize::MAX)), (0, Some(usize::MAX)), (4, None)] {
            assert_eq!(batch_limit(n), want, "{n}");
        }
    }

    #[test]
    fn a_batched_run_is_split_into_each_frames_outputs() {
        let scores: (&[i64], &[f32]) = (&[2, 3, 1], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let boxes: (&[i64], &[f32]) = (&[2, 1, 2], &[7.0, 8.0, 9.0, 10.0]);
        let mut frames = vec![Vec::new(); 2];
        split_batch(&[scores, boxes], &mut frames).unwrap();
        let want = |s: [f32; 3], b: [f32; 2]| {
            vec![
                Output { shape: vec![1, 3, 1], data: s.to_vec() },
                Output { shape: vec![1, 1, 2], data: b.to_vec() },
            ]
        };
        let both = [want([1.0, 2.0, 3.0], [7.0, 8.0]), want([4.0, 5.0, 6.0], [9.0, 10.0])];
        assert_eq!(frames, both);
        // An output without the batch dimension cannot be split, and the
        // slots keep what they had.
        for shape in [&[3, 2][..], &[], &[1, 6]] {
            let e = split_batch(&[(shape, &[0.0; 6])], &mut frames).unwrap_err();
            assert!(matches!(e, DetectorError::Batch(_)), "{shape:?}");
            assert_eq!(frames, both);
        }
        // A run of one frame is copied as it is.
        let mut one = vec![Vec::new()];
        split_batch(&[(&[5], &[0.0; 5])], &mut one).unwrap();
        assert_eq!(one, [vec![Output { shape: vec![5], data: vec![0.0; 5] }]]);
    }

    #[test]
    fn a_frames_outputs_are_copied_into_the_memory_its_slot_has() {
        let big = vec![Output { shape: vec![1, 1000], data: vec![0.0; 1000] }; 3];
        let places = |frame: &[Output]| frame.iter().map(|o| o.data.as_ptr()).collect::<Vec<_>>();
        let mut frames = vec![big.clone(), big];
        let before: Vec<_> = frames.iter().map(|f| places(f)).collect();
        // Two outputs now, not three: the third goes.
        split_batch(&[(&[2, 4], &[1.0; 8]), (&[2, 2], &[2.0; 4])], &mut frames).unwrap();
        for (frame, was) in frames.iter().zip(&before) {
            assert_eq!(frame.len(), 2);
            assert_eq!(places(frame), was[..2]);
            assert_eq!(
                (frame[0].shape.as_slice(), frame[0].data.as_slice()),
                (&[1, 4][..], &[1.0; 4][..])
            );
        }
    }

    #[test]
    fn load_failures_say_which_failure_it_was() {
        assert!(matches!(Model::load(&options("", "ort.so")), Err(DetectorError::NoModel)));
        assert!(matches!(Model::load(&options("m.onnx", "")), Err(DetectorError::NoRuntime)));
        let e = Model::load(&options("/nonexistent/m.onnx", "ort.so")).unwrap_err();
        assert!(matches!(e, DetectorError::ModelMissing(_)));
        assert_eq!(crate::error::chain(&e), "model file /nonexistent/m.onnx not found");
    }
}
