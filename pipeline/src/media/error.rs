//! The media pipeline's errors: what failed in the video input, the
//! detector or the video outputs. Each names the failure in its message
//! (what `GET .../error` shows), with the underlying cause as its source;
//! report them with [`crate::error::chain`].

use std::path::PathBuf;

use gstreamer::glib;

/// GStreamer's errors when a pipeline is assembled (an element that cannot
/// be added or linked, a pad that is missing).
#[derive(Debug, thiserror::Error)]
pub enum GstError {
    #[error("GStreamer failed to initialise")]
    Init(#[source] glib::Error),
    #[error("GStreamer element '{factory}' is not available")]
    MissingElement {
        factory: String,
        #[source]
        source: glib::BoolError,
    },
    #[error("cannot assemble the GStreamer pipeline")]
    Assemble(#[source] glib::BoolError),
    #[error("cannot link the GStreamer pipeline")]
    Link(#[source] gstreamer::PadLinkError),
    #[error("GStreamer element '{0}' has no '{1}' pad")]
    MissingPad(&'static str, &'static str),
    #[error("the GStreamer pipeline cannot start")]
    Start(#[source] gstreamer::StateChangeError),
}

impl From<glib::BoolError> for GstError {
    fn from(e: glib::BoolError) -> Self {
        GstError::Assemble(e)
    }
}

/// A failure of the video input.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The decoding pipeline could not be built.
    #[error("cannot build the input pipeline")]
    Build(#[from] GstError),
    /// The pipeline was built but the input did not open (a missing file,
    /// an unreachable camera); the bus message says why.
    #[error("the input cannot be opened: {0}")]
    Open(String),
    /// The running pipeline reported an error.
    #[error("{element}: {message}{debug}", debug = .debug.as_ref().map(|d| format!(" ({d})")).unwrap_or_default())]
    Stream { element: String, message: String, debug: Option<String> },
    /// A decoded frame could not be read.
    #[error("unusable frame from the input: {0}")]
    Frame(String),
    /// A pushed frame was given to an input that takes none.
    #[error("this input does not take pushed frames")]
    NotPushed,
    /// The pipeline refused a pushed frame.
    #[error("the pipeline refused the pushed frame")]
    Push(#[source] gstreamer::FlowError),
}

/// A failure of the detector: loading the model or running it on a frame.
#[derive(Debug, thiserror::Error)]
pub enum DetectorError {
    #[error(
        "no detector model is configured (detector.model in rtconfig.json, --model or \
         RT_MODEL_PATH)"
    )]
    NoModel,
    #[error(
        "no ONNX Runtime library is configured (detector.onnxruntime in rtconfig.json, \
         --onnxruntime or ORT_DYLIB_PATH)"
    )]
    NoRuntime,
    #[error("model file {} not found", .0.display())]
    ModelMissing(PathBuf),
    /// The ONNX Runtime library could not be loaded or started (once per
    /// process: the message is kept for later loads).
    #[error("cannot load ONNX Runtime from {}: {message}", library.display())]
    Runtime { library: PathBuf, message: String },
    /// The execution provider asked for cannot be used (and CPU fallback is
    /// off).
    #[error(
        "cannot use the {provider} execution provider with {}: {message} (an onnxruntime-gpu \
         library with CUDA and cuDNN on the host is needed; detector.cpu_fallback runs on the \
         CPU instead)",
        library.display()
    )]
    Provider { provider: &'static str, library: PathBuf, message: String },
    #[error("cannot load model {}", path.display())]
    Load {
        path: PathBuf,
        #[source]
        source: ort::Error,
    },
    /// The model loads but its input is not what the pipeline feeds.
    #[error("unsupported model input: {0}")]
    Input(String),
    /// The frame could not be turned into the model's input.
    #[error("unusable frame")]
    Frame(#[source] crate::error::Error),
    #[error("inference failed")]
    Inference(#[source] ort::Error),
    /// A run panicked (a bug, in ONNX Runtime's bindings or ours); its
    /// frames fail and the session serves on.
    #[error("the model run panicked: {0}")]
    Panicked(String),
    /// A run of several frames gave outputs that cannot be split per frame.
    #[error("the model's outputs do not hold one result per frame of the batch: {0}")]
    Batch(String),
    /// The shared inference service ended (the server is shutting down).
    #[error("the inference service has stopped")]
    ServiceStopped,
    /// An answer was asked for with no frame sent (a worker's mistake).
    #[error("no frame was sent to the detector")]
    NothingSent,
    #[error("cannot start the inference service's threads")]
    Threads(#[source] std::io::Error),
    /// The model's outputs are not what its family's decoder expects.
    #[error("the model's output cannot be decoded")]
    Decode(#[source] crate::error::Error),
}

/// A failure of a video output (HLS or RTSP).
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("cannot build the output pipeline")]
    Build(#[from] GstError),
    #[error("HLS directory {}", path.display())]
    HlsDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot serve RTSP on {address}:{port}")]
    Serve {
        address: String,
        port: u16,
        #[source]
        source: glib::BoolError,
    },
    #[error("the RTSP server has no mount points")]
    NoMounts,
    #[error("cannot start the RTSP server thread")]
    Thread(#[source] std::io::Error),
    #[error("the encoder refused a frame")]
    Push(#[source] gstreamer::FlowError),
    #[error("the encoder failed: {0}")]
    Encoder(String),
    #[error("HLS output failed")]
    Hls(#[source] Box<OutputError>),
    #[error("RTSP output failed")]
    Rtsp(#[source] Box<OutputError>),
}
