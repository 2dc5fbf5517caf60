// goDiskGuard: keep Go builds on this agent from dying of a full disk.
//
//   goDiskGuard()                                   // check, prune, set env for the rest of the run
//   goDiskGuard(soft: '10GB', hard: '2GB') { sh 'go test ./...' }   // env applied to the body only
//
// Runs `go-disk-guard check --emit jenkins` on the agent, applies the Go environment it hands
// back (GOROOT, GOPATH, GOCACHE, GOMODCACHE, GOBIN, GOTMPDIR and GOCACHEPROG when set, and
// PATH), and fails the build when a volume stays below the hard limit. See goDiskGuard.txt
// for every option.
//
// The settings the check ran with travel on. In the body, GO_DISK_GUARD_CONFIG names a file in
// the build's temp directory holding them, so that `go-disk-guard run`, `status` or `prune`
// there use the step's settings unless their own flags, GO_DISK_GUARD_* variables or --config
// say otherwise. Without a body, the rest of the run may go on on another agent, where that file
// is not: the step's settings stay set as GO_DISK_GUARD_* variables instead (a later flag still
// wins).
//
// Settings reach the binary as GO_DISK_GUARD_* environment variables, never spliced into a
// shell command line, so no configuration value can run a command. Values shown in the step's
// messages (the tool's stderr and message, paths, keys, versions, URLs) go through `shown`,
// so that none can end its line and fake a line of the build log.

import com.cloudbees.groovy.cps.NonCPS
import groovy.json.JsonSlurperClassic
import groovy.transform.Field

/** The release this library version installs by default. */
@Field static final String DEFAULT_VERSION = '0.1.0'

/** Where releases are downloaded from, unless `downloadUrl` says otherwise. */
@Field static final String RELEASES = 'https://github.com/go-disk-guard/go-disk-guard/releases/download'

/** The tool's documented exit code for "below the hard limit". */
@Field static final int EXIT_HARD_LIMIT = 3

/** Configuration keys passed to the binary, and the environment variable each becomes. */
@Field static final Map<String, String> SETTINGS = [
    soft        : 'GO_DISK_GUARD_SOFT',
    hard        : 'GO_DISK_GUARD_HARD',
    target      : 'GO_DISK_GUARD_TARGET',
    cacheMaxSize: 'GO_DISK_GUARD_CACHE_MAX_SIZE',
    cacheprogMaxSize: 'GO_DISK_GUARD_CACHEPROG_MAX_SIZE',
    cacheprogRemote: 'GO_DISK_GUARD_CACHEPROG_REMOTE',
    cacheprogRemoteReadOnly: 'GO_DISK_GUARD_CACHEPROG_REMOTE_READ_ONLY',
    keepRecent  : 'GO_DISK_GUARD_KEEP_RECENT',
    paths       : 'GO_DISK_GUARD_PATHS',
    relocate    : 'GO_DISK_GUARD_RELOCATE',
    migrate     : 'GO_DISK_GUARD_MIGRATE',
    dryRun      : 'GO_DISK_GUARD_DRY_RUN',
    config      : 'GO_DISK_GUARD_CONFIG',
]

/** Keys the step itself uses. */
@Field static final List<String> STEP_KEYS = ['failOnHard', 'version', 'binary', 'downloadUrl', 'sha256']

/** A release version, as the release archives are named. */
@Field static final String VERSION_PATTERN = /[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.-]+)?/

def call(Map config = [:], Closure body = null) {
    List<String> unknown = unknownKeys(config)
    if (unknown) {
        error("goDiskGuard: unknown configuration key(s): ${shown(unknown.join(', '))}; " +
              "known keys: ${(SETTINGS.keySet() + STEP_KEYS).sort().join(', ')}")
    }
    boolean unix = isUnix()
    String exe = locateBinary(config, unix)
    String tmp = pwd(tmp: true)
    String sep = unix ? '/' : '\\'
    // Files of this use alone: another use meanwhile (a parallel branch in the same workspace)
    // must neither overwrite the result read here nor the settings this body carries.
    String stem = "${tmp}${sep}go-disk-guard-${env.BUILD_NUMBER ?: '0'}-${UUID.randomUUID()}"
    String jsonFile = "${stem}.json"
    String errFile = "${jsonFile}.err"
    String settingsFile = "${stem}-settings.yml"

    // Whoever can write the remote tier's bucket can make builds link code they choose: a
    // build of a change request (CHANGE_ID: a pull request, from a fork or not) only reads
    // it, unless told otherwise.
    Map settings = withReadOnlyDefault(config, env.CHANGE_ID)
    List<String> runEnv = settingsEnvironment(settings)
    runEnv.add("GO_DISK_GUARD_BIN=${exe}")
    runEnv.add("GO_DISK_GUARD_EMIT_FILE=${jsonFile}")
    runEnv.add("GO_DISK_GUARD_ERR_FILE=${errFile}")
    runEnv.add("GO_DISK_GUARD_SETTINGS_FILE=${settingsFile}")
    int code
    withEnv(runEnv) {
        if (unix) {
            code = sh(script: '"$GO_DISK_GUARD_BIN" check --emit jenkins --emit-file "$GO_DISK_GUARD_EMIT_FILE" --save-settings "$GO_DISK_GUARD_SETTINGS_FILE" 2> "$GO_DISK_GUARD_ERR_FILE"',
                      returnStatus: true)
        } else {
            code = bat(script: '@"%GO_DISK_GUARD_BIN%" check --emit jenkins --emit-file "%GO_DISK_GUARD_EMIT_FILE%" --save-settings "%GO_DISK_GUARD_SETTINGS_FILE%" 2> "%GO_DISK_GUARD_ERR_FILE%"',
                       returnStatus: true)
        }
    }
    String stderr = fileExists(errFile) ? readFile(errFile).trim() : ''
    if (code != 0 && code != EXIT_HARD_LIMIT) {
        error("goDiskGuard: go-disk-guard failed with exit code ${code}: ${shown(stderr ?: 'no message')}")
    }
    if (!fileExists(jsonFile)) {
        error("goDiskGuard: go-disk-guard wrote no result to ${shown(jsonFile)}: ${shown(stderr ?: 'no message')}")
    }
    Map result = parseResult(readFile(jsonFile))
    if (code == EXIT_HARD_LIMIT) {
        String message = "go-disk-guard: ${shown(result.message)}"
        if (config.failOnHard == null || config.failOnHard) {
            error(message)
        }
        unstable(message)
    }
    List<String> envEntries = envEntries(result, unix)
    // go-disk-guard itself on PATH, so that the body can guard a build while it runs:
    // sh 'go-disk-guard run -- go test ./...'
    envEntries.add("PATH+GO_DISK_GUARD=${parentDirectory(exe, unix)}".toString())
    if (body != null) {
        // The body runs on this agent: the saved settings file (GO_DISK_GUARD_CONFIG, among
        // the entries) carries the settings to it.
        withEnv(envEntries) {
            body()
        }
    } else {
        // For the rest of the run, which may go on on another agent, where the saved file is
        // not: the settings travel as GO_DISK_GUARD_* variables instead (but for what the
        // check did once), and the file is not named.
        List<String> carried = carriedEnvironment(settings)
        envEntries = envEntries.findAll { !it.startsWith('GO_DISK_GUARD_CONFIG=') } + carried
        for (int i = 0; i < envEntries.size(); i++) {
            String entry = envEntries[i]
            int eq = entry.indexOf('=')
            String name = entry.substring(0, eq)
            String value = entry.substring(eq + 1)
            if (name.startsWith('PATH+')) {
                env.PATH = value + (unix ? ':' : ';') + env.PATH
            } else {
                env[name] = value
            }
        }
    }
    return summary(result, code)
}

/**
 * `value` for one line of the build log: line breaks, other control characters (the escape
 * that starts a console note among them) and Unicode line separators become visible escapes
 * (backslash escapes such as `\n` and `\x1b`), so that no value can end its line and fake
 * another.
 */
@NonCPS
static String shown(Object value) {
    String s = String.valueOf(value)
    StringBuilder out = new StringBuilder(s.length())
    for (int i = 0; i < s.length(); i++) {
        char c = s.charAt(i)
        if (c == '\n' as char) {
            out.append('\\n')
        } else if (c == '\r' as char) {
            out.append('\\r')
        } else if ((Character.isISOControl(c) && c != '\t' as char) || c == '\u2028' as char || c == '\u2029' as char) {
            out.append((int) c < 0x100 ? String.format('\\x%02x', (int) c) : String.format('\\u{%x}', (int) c))
        } else {
            out.append(c)
        }
    }
    return out.toString()
}

/** The keys of `config` that are neither settings nor the step's own. */
@NonCPS
static List<String> unknownKeys(Map config) {
    List<String> known = new ArrayList<>(SETTINGS.keySet())
    known.addAll(STEP_KEYS)
    return config.keySet().collect { it.toString() }.findAll { !known.contains(it) }.sort()
}

/**
 * `NAME=value` entries for every setting: the value given (lists, such as paths, one item per
 * line), else empty, which the binary reads as unset; so that each use of the step starts from
 * its own settings, not from those an earlier use left in the environment.
 */
@NonCPS
static List<String> settingsEnvironment(Map config) {
    List<String> out = []
    SETTINGS.each { key, var ->
        String text = ''
        if (config.containsKey(key) && config[key] != null) {
            def value = config[key]
            text = value instanceof Collection ? value.join('\n') : value.toString()
        }
        out << "${var}=${text}".toString()
    }
    return out
}

/**
 * `config` with `cacheprogRemoteReadOnly` true when it is not given and `changeId` is set
 * (multibranch pipelines set CHANGE_ID for every change request build: whether its source is
 * the repository itself cannot be told safely, CHANGE_FORK being empty for some forks too).
 * Otherwise it stays as given: not given leaves the variable empty, which reads as false but
 * lets a configuration file make the remote read-only.
 */
@NonCPS
static Map withReadOnlyDefault(Map config, def changeId) {
    Map out = new LinkedHashMap(config)
    if (out.cacheprogRemoteReadOnly == null && changeId) {
        out.cacheprogRemoteReadOnly = 'true'
    }
    return out
}

/** What the step leaves set for the rest of a run without a body: the settings, not what the check did once. */
@NonCPS
static List<String> carriedEnvironment(Map config) {
    return settingsEnvironment(config).collect { String entry ->
        entry.startsWith('GO_DISK_GUARD_RELOCATE=') || entry.startsWith('GO_DISK_GUARD_MIGRATE=')
            ? entry.substring(0, entry.indexOf('=') + 1)
            : entry
    }
}

/** Parses the JSON document of `--emit jenkins` into plain, serializable maps and lists. */
@NonCPS
static Map parseResult(String json) {
    return (Map) new JsonSlurperClassic().parseText(json)
}

/** withEnv entries: each variable, and one `PATH+GO=` entry for the directories to prepend. */
@NonCPS
static List<String> envEntries(Map result, boolean unix) {
    List<String> out = []
    ((Map) result.env ?: [:]).each { k, v -> out << "${k}=${v}".toString() }
    List dirs = (List) result.pathPrepend ?: []
    if (!dirs.isEmpty()) {
        out << ('PATH+GO=' + dirs.join(unix ? ':' : ';'))
    }
    return out
}

/** The directory holding `file`. */
@NonCPS
static String parentDirectory(String file, boolean unix) {
    int at = Math.max(file.lastIndexOf('/'), unix ? -1 : file.lastIndexOf('\\'))
    return at > 0 ? file.substring(0, at) : '.'
}

/** What the step returns. */
@NonCPS
static Map summary(Map result, int code) {
    return [
        status        : result.status,
        exitCode      : code,
        availableBytes: result.availableBytes,
        prunedBytes   : result.prunedBytes,
        prunedFiles   : result.prunedFiles,
        wouldPruneBytes: result.wouldPruneBytes,
        wouldPruneFiles: result.wouldPruneFiles,
        dryRun        : result.dryRun,
        message       : result.message,
        env           : new LinkedHashMap((Map) result.env ?: [:]),
    ]
}

/**
 * The binary to run: `binary`, else a go-disk-guard on PATH of the requested version, else the
 * release archive for this agent, downloaded into a per-version tool directory, verified
 * against its SHA-256, and reused by later builds.
 */
def locateBinary(Map config, boolean unix) {
    if (config.binary) {
        return config.binary.toString()
    }
    String version = (config.version ?: DEFAULT_VERSION).toString().replaceFirst(/^v/, '')
    // The version names the archive and the tool directory: nothing but a release version.
    if (!(version ==~ VERSION_PATTERN)) {
        error("goDiskGuard: version must be a release version such as ${DEFAULT_VERSION}, not '${shown(version)}'")
    }
    String onPath = unix
        ? sh(script: 'command -v go-disk-guard || true', returnStdout: true).trim()
        : bat(script: '@where go-disk-guard 2>nul || exit /b 0', returnStdout: true).trim()
    if (onPath) {
        onPath = onPath.readLines().first().trim()
        String reported
        withEnv(["GO_DISK_GUARD_BIN=${onPath}"]) {
            reported = unix
                ? sh(script: '"$GO_DISK_GUARD_BIN" --version', returnStdout: true).trim()
                : bat(script: '@"%GO_DISK_GUARD_BIN%" --version', returnStdout: true).trim()
        }
        if (reported == "go-disk-guard ${version}".toString()) {
            return onPath
        }
    }
    return install(config, version, unix)
}

/** Downloads, verifies and unpacks the release archive; reuses a verified earlier install. */
def install(Map config, String version, boolean unix) {
    String target = unix ? unixTarget() : 'x86_64-pc-windows-msvc'
    String archive = "go-disk-guard-v${version}-${target}${unix ? '.tar.gz' : '.zip'}"
    String base = (config.downloadUrl ?: "${RELEASES}/v${version}").toString().replaceFirst(/\/+$/, '')
    String dir = toolDirectory(version, unix)
    String exe = unix ? "${dir}/go-disk-guard" : "${dir}\\go-disk-guard.exe"
    if (fileExists(unix ? "${dir}/.verified" : "${dir}\\.verified") && fileExists(exe)) {
        return exe
    }
    List<String> installEnv = [
        "GDG_URL=${base}/${archive}",
        "GDG_SUMS_URL=${base}/SHA256SUMS",
        "GDG_ARCHIVE=${archive}",
        "GDG_DIR=${dir}",
        "GDG_SHA256=${config.sha256 ?: ''}",
    ]
    int code
    withEnv(installEnv) {
        if (unix) {
            code = sh(script: libraryResource('go-disk-guard/install.sh'), returnStatus: true)
        } else {
            code = powershell(script: libraryResource('go-disk-guard/install.ps1'), returnStatus: true)
        }
    }
    if (code == 2) {
        error("goDiskGuard: the checksum of ${shown(archive)} does not match; refusing to run it")
    }
    if (code != 0) {
        error("goDiskGuard: could not install go-disk-guard ${shown(version)} from ${shown(base)} (exit code ${code})")
    }
    return exe
}

/** The Rust target of this Unix agent's release archive. */
def unixTarget() {
    String os = sh(script: 'uname -s', returnStdout: true).trim()
    String arch = sh(script: 'uname -m', returnStdout: true).trim()
    String cpu = (arch == 'arm64' || arch == 'aarch64') ? 'aarch64' : 'x86_64'
    return os == 'Darwin' ? "${cpu}-apple-darwin" : "${cpu}-unknown-linux-musl"
}

/** `<agent root>/tools/go-disk-guard/<version>`, next to the agent's workspaces. */
def toolDirectory(String version, boolean unix) {
    String home = env.GO_DISK_GUARD_TOOLS
    if (!home) {
        String ws = env.WORKSPACE ?: pwd()
        String s = unix ? '/' : '\\'
        int at = ws.lastIndexOf("${s}workspace${s}")
        home = at >= 0 ? "${ws.substring(0, at)}${s}tools${s}go-disk-guard" : "${pwd(tmp: true)}${s}go-disk-guard-tools"
    }
    return unix ? "${home}/${version}" : "${home}\\${version}"
}
