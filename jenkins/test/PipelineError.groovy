/** What the `error` step throws (a failed build). */
class PipelineError extends RuntimeException {
    PipelineError(String message) { super(message) }
}
