// A small stand-in for the Jenkins pipeline steps that goDiskGuard uses. It loads the library
// script with these steps bound, records every call, and lets `sh` really run commands (so the
// step runs the real go-disk-guard binary). `bat` is emulated on Linux for the Windows-agent
// tests by turning `%NAME%` into `$NAME`; `powershell` cannot run here and only records.
//
// It is a test harness, not Jenkins: it does no CPS transformation.

class Pipeline {
    /** Whether the simulated agent is a Unix one. */
    boolean unix = true
    /** The run's `env`: variables for the rest of the run. */
    Map<String, String> env = new LinkedHashMap<>()
    /** The environment the agent's processes start from. */
    Map<String, String> base = new LinkedHashMap<>()
    /** withEnv frames, innermost last. */
    List<List<String>> frames = []
    /** Every step call: [step, argument]. */
    List<List> calls = []
    List<String> unstableMessages = []
    List<String> log = []
    File workspace
    File libraryRoot

    Pipeline(File workspace, File libraryRoot) {
        this.workspace = workspace
        this.libraryRoot = libraryRoot
        env.WORKSPACE = workspace.path
        env.BUILD_NUMBER = '7'
    }

    /** The library's goDiskGuard, with this pipeline's steps bound. */
    Script load() {
        Binding binding = new Binding()
        binding.setVariable('env', env)
        ['sh', 'bat', 'powershell', 'isUnix', 'withEnv', 'error', 'unstable', 'echo', 'fileExists',
         'readFile', 'writeFile', 'pwd', 'libraryResource'].each { name ->
            binding.setVariable(name, this.&"$name")
        }
        GroovyShell shell = new GroovyShell(this.class.classLoader, binding)
        return shell.parse(new File(libraryRoot, 'vars/goDiskGuard.groovy'))
    }

    /** The environment a process started now would get: base, run env, withEnv frames. */
    Map<String, String> effectiveEnv() {
        Map<String, String> out = new LinkedHashMap<>(base)
        env.each { k, v -> if (v != null) out[k] = v.toString() }
        frames.each { frame ->
            frame.each { String entry ->
                int eq = entry.indexOf('=')
                String name = entry.substring(0, eq)
                String value = entry.substring(eq + 1)
                if (name.startsWith('PATH+')) {
                    out.PATH = value + (unix ? ':' : ';') + out.PATH
                } else {
                    out[name] = value
                }
            }
        }
        return out
    }

    boolean isUnix() { calls << ['isUnix', null]; unix }

    def sh(arg) {
        Map args = arg instanceof Map ? arg : [script: arg.toString()]
        calls << ['sh', args.script]
        return run(['bash', '-c', args.script.toString()], args)
    }

    def bat(arg) {
        Map args = arg instanceof Map ? arg : [script: arg.toString()]
        calls << ['bat', args.script]
        // cmd's %NAME% expansion, and a leading @ (no echo), emulated for bash.
        String script = args.script.toString().replaceFirst(/^@/, '').replaceAll(/%(\w+)%/, '\\${$1}')
        return run(['bash', '-c', script], args)
    }

    def powershell(arg) {
        Map args = arg instanceof Map ? arg : [script: arg.toString()]
        calls << ['powershell', args.script]
        if (args.returnStatus) return 1
        throw new PipelineError('powershell cannot run in this harness')
    }

    private def run(List<String> command, Map args) {
        ProcessBuilder pb = new ProcessBuilder(command).directory(workspace)
        pb.environment().clear()
        pb.environment().putAll(effectiveEnv())
        Process p = pb.start()
        def out = new ByteArrayOutputStream()
        def err = new ByteArrayOutputStream()
        Thread t1 = Thread.start { out << p.inputStream }
        Thread t2 = Thread.start { err << p.errorStream }
        int code = p.waitFor()
        t1.join(); t2.join()
        log << out.toString() << err.toString()
        if (args.returnStatus) return code
        if (code != 0) throw new PipelineError("script returned exit code ${code}: ${err}")
        return args.returnStdout ? out.toString() : null
    }

    def withEnv(List entries, Closure body) {
        calls << ['withEnv', entries.collect { it.toString() }]
        frames << entries.collect { it.toString() }
        try {
            return body()
        } finally {
            frames.remove(frames.size() - 1)
        }
    }

    def error(String message) { calls << ['error', message]; throw new PipelineError(message) }

    def unstable(String message) { calls << ['unstable', message]; unstableMessages << message }

    def echo(String message) { log << message }

    boolean fileExists(String path) { new File(path).exists() }

    String readFile(arg) { new File(arg instanceof Map ? arg.file.toString() : arg.toString()).text }

    def writeFile(Map args) { new File(args.file.toString()).text = args.text.toString() }

    String pwd(Map args = [:]) {
        if (args.tmp) {
            File tmp = new File(workspace.path + '@tmp')
            tmp.mkdirs()
            return tmp.path
        }
        return workspace.path
    }

    String libraryResource(String path) { new File(libraryRoot, "resources/${path}").text }

    /** How many times `step` was called. */
    int count(String step) { calls.count { it[0] == step } }
}
