// Tests of the goDiskGuard step against the real go-disk-guard binary.
//
//   groovy -cp jenkins/test:jenkins/test/stubs jenkins/test/goDiskGuardTest.groovy \
//       path/to/go-disk-guard [library root, default: jenkins]
//
// Ends with a line "N passed, N failed" and exits non-zero when a test failed.

if (args.length < 1) {
    System.err.println('usage: goDiskGuardTest.groovy GO_DISK_GUARD_BINARY [LIBRARY_ROOT]')
    System.exit(2)
}
File binary = new File(args[0]).canonicalFile
File libraryRoot = new File(args.length > 1 ? args[1] : 'jenkins').canonicalFile
String version = ['bash', '-c', '"$0" --version', binary.path].execute().text.trim() - 'go-disk-guard '

int passed = 0
int failed = 0
def test = { String name, Closure body ->
    try {
        body()
        passed++
        println "ok      ${name}"
    } catch (Throwable t) {
        failed++
        println "FAILED  ${name}: ${t}"
        t.printStackTrace(System.out)
    }
}

/** Every agent's root, removed when the tests end. */
List<File> roots = []

/** A pipeline on a fresh agent whose workspace is <root>/workspace/job. */
def agent = { ->
    File root = File.createTempDir()
    roots << root
    File ws = new File(root, 'workspace/job')
    ws.mkdirs()
    Pipeline p = new Pipeline(ws, libraryRoot)
    p.base = [
        PATH            : '/usr/bin:/bin',
        HOME            : root.path,
        GOCACHE         : "${root}/gocache".toString(),
        GOPATH          : "${root}/gopath".toString(),
        GO_DISK_GUARD_GO: '/nonexistent/go',
    ]
    p.env.PATH = p.base.PATH
    p.metaClass.root = root
    return p
}

def expectError = { Closure c ->
    try {
        c()
    } catch (PipelineError e) {
        return e.message
    }
    throw new AssertionError('expected the step to fail the build')
}

test('a preinstalled binary: check runs and the environment is set for the rest of the run') {
    Pipeline p = agent()
    Map result = p.load().call(binary: binary.path, soft: '1KiB', hard: '0')
    assert result.status == 'ok'
    assert result.exitCode == 0
    assert result.availableBytes > 0
    assert p.env.GOCACHE == "${p.root}/gocache".toString()
    assert p.env.GOPATH == "${p.root}/gopath".toString()
    assert p.env.GOMODCACHE == "${p.root}/gopath/pkg/mod".toString()
    assert p.env.GOBIN == "${p.root}/gopath/bin".toString()
    assert p.env.PATH == "${binary.parent}:${p.root}/gopath/bin:/usr/bin:/bin".toString()
    // Settings reach the binary through the environment, never the command line.
    List runEnv = p.calls.find { it[0] == 'withEnv' }[1]
    assert runEnv.contains('GO_DISK_GUARD_SOFT=1KiB')
    assert runEnv.contains('GO_DISK_GUARD_HARD=0')
    String script = p.calls.find { it[0] == 'sh' && it[1].contains(' check ') }[1]
    assert !script.contains('1KiB')
}

test('cacheprogMaxSize hands the body a GOCACHEPROG serving GOCACHE within the budget') {
    Pipeline p = agent()
    String seen = null
    p.load().call([binary: binary.path, soft: '1KiB', hard: '0', cacheprogMaxSize: '64MiB']) {
        seen = p.effectiveEnv().GOCACHEPROG
    }
    assert seen == "${binary.path} cacheprog --dir ${p.root}/gocache --max-size 67108864".toString()
    assert p.env.GOCACHEPROG == null
    List runEnv = p.calls.find { it[0] == 'withEnv' }[1]
    assert runEnv.contains('GO_DISK_GUARD_CACHEPROG_MAX_SIZE=64MiB')
}

test('cacheprogRemote joins GOCACHEPROG, read-only by default for any change request build') {
    String remote = "${binary.path} cacheprog --dir %s/gocache --max-size 67108864 --remote s3://ci-go-cache/linux"
    def handedOn = { Map extra, Map change ->
        Pipeline p = agent()
        change.each { k, v -> p.env[k] = v }
        String seen = null
        Map config = [binary: binary.path, soft: '1KiB', hard: '0', cacheprogMaxSize: '64MiB',
                      cacheprogRemote: 's3://ci-go-cache/linux'] + extra
        p.load().call(config) {
            seen = p.effectiveEnv().GOCACHEPROG
        }
        List runEnv = p.calls.find { it[0] == 'withEnv' }[1]
        assert runEnv.contains('GO_DISK_GUARD_CACHEPROG_REMOTE=s3://ci-go-cache/linux')
        return seen - String.format(remote, p.root.path)
    }
    // A branch build: writable.
    assert handedOn([:], [:]) == ''
    assert handedOn([:], [CHANGE_ID: '']) == ''
    // A change request, from a fork or from the repository itself: read-only.
    assert handedOn([:], [CHANGE_ID: '7', CHANGE_FORK: 'stranger']) == ' --remote-read-only'
    assert handedOn([:], [CHANGE_ID: '7']) == ' --remote-read-only'
    assert handedOn([:], [CHANGE_ID: '7', CHANGE_FORK: '']) == ' --remote-read-only'
    // Said explicitly, either way.
    assert handedOn([cacheprogRemoteReadOnly: false], [CHANGE_ID: '7', CHANGE_FORK: 'stranger']) == ''
    assert handedOn([cacheprogRemoteReadOnly: true], [:]) == ' --remote-read-only'
}

test('without a body, a change request\'s read-only remote tier stays set for the rest of the run') {
    Pipeline p = agent()
    p.env.CHANGE_ID = '7'
    p.load().call([binary: binary.path, soft: '1KiB', hard: '0', cacheprogMaxSize: '64MiB',
                   cacheprogRemote: 's3://ci-go-cache/linux'])
    assert p.env.GOCACHEPROG.endsWith(' --remote s3://ci-go-cache/linux --remote-read-only')
    assert p.env.GO_DISK_GUARD_CACHEPROG_REMOTE == 's3://ci-go-cache/linux'
    assert p.env.GO_DISK_GUARD_CACHEPROG_REMOTE_READ_ONLY == 'true'
}

test('the body can guard a build while it runs with go-disk-guard run') {
    Pipeline p = agent()
    int code = -1
    p.load().call([binary: binary.path, soft: '1KiB', hard: '0']) {
        code = p.sh(script: 'go-disk-guard run --soft 1KiB --hard 0 -- sh -c "exit 5"', returnStatus: true)
    }
    assert code == 5
}

test('the body form applies the environment to the body only') {
    Pipeline p = agent()
    Map seen = null
    p.load().call([binary: binary.path, soft: '1KiB', hard: '0']) {
        seen = p.effectiveEnv()
    }
    assert seen.GOCACHE == "${p.root}/gocache".toString()
    assert seen.PATH.startsWith("${binary.parent}:${p.root}/gopath/bin:".toString())
    assert p.env.GOMODCACHE == null
    assert p.env.PATH == '/usr/bin:/bin'
    assert p.frames.isEmpty()
}

/** The settings a `go-disk-guard status --format json` started now would run with. */
def statusSettings = { Pipeline p ->
    String json = p.sh(script: 'go-disk-guard status --format json', returnStdout: true)
    return new groovy.json.JsonSlurper().parseText(json).settings
}

test('the step\'s settings carry into go-disk-guard commands in the body') {
    Pipeline p = agent()
    Map seen = null
    Map overridden = null
    p.load().call([binary: binary.path, soft: '2GB', hard: '0', keepRecent: '3h', dryRun: true]) {
        seen = statusSettings(p)
        p.withEnv(['GO_DISK_GUARD_SOFT=3GB']) { overridden = statusSettings(p) }
    }
    assert seen.soft == 2000000000
    assert seen.hard == 0
    assert seen.keep_recent == '3h'
    assert seen.dry_run == true
    // A later variable (or flag) wins over the carried settings.
    assert overridden.soft == 3000000000
    // After the body, nothing is carried.
    assert p.env.GO_DISK_GUARD_CONFIG == null
}

test('without a body, the step\'s settings carry for the rest of the run, on any agent, and a second use starts afresh') {
    Pipeline p = agent()
    p.load().call([binary: binary.path, soft: '2GB', hard: '0', keepRecent: '3h', relocate: "${p.root}/elsewhere".toString()])
    // Variables, which travel with the run to another agent; not a file of this one.
    assert p.env.GO_DISK_GUARD_SOFT == '2GB'
    assert p.env.GO_DISK_GUARD_KEEP_RECENT == '3h'
    assert !p.env.GO_DISK_GUARD_CONFIG
    // What the check did once is not carried.
    assert !p.env.GO_DISK_GUARD_RELOCATE
    // Another agent: this one's temp directory is not there.
    new File(p.pwd(tmp: true)).deleteDir()
    Map later = statusSettings(p)
    assert later.soft == 2000000000
    assert later.keep_recent == '3h'
    // A later flag still wins.
    String json = p.sh(script: 'go-disk-guard status --format json --soft 3GB', returnStdout: true)
    assert new groovy.json.JsonSlurper().parseText(json).settings.soft == 3000000000
    // A second use takes its own settings, not those the first left set.
    p.load().call([binary: binary.path, soft: '5GB', hard: '0'])
    later = statusSettings(p)
    assert later.soft == 5000000000
    assert later.keep_recent == '2h'
}

test('another use of the step meanwhile (a parallel branch in the same workspace) leaves this body\'s settings alone') {
    Pipeline p = agent()
    Map seen = null
    p.load().call([binary: binary.path, soft: '2GB', hard: '0']) {
        p.load().call([binary: binary.path, soft: '5GB', hard: '0', keepRecent: '9h']) { }
        seen = statusSettings(p)
    }
    assert seen.soft == 2000000000
    assert seen.keep_recent == '2h'
}

test('a dry run says so: nothing pruned, what would have been apart') {
    Pipeline p = agent()
    File cache = new File(p.root, 'gocache')
    String fill = '''
        set -e
        mkdir -p "$0/00"
        for i in $(seq 1 12); do
            key=$(printf '%064x' "$i")
            head -c 4096 /dev/urandom > "$0/00/${key}-d"
            printf 'v1 %064x %064x %20d %20d\n' "$i" "$i" 4096 0 > "$0/00/${key}-a"
        done
        printf 'This directory holds cached build artifacts from the Go build system.\n' > "$0/README"
        touch -d '3 days ago' "$0"/00/*
    '''
    assert ['bash', '-c', fill, cache.path].execute().waitFor() == 0
    Closure count = { new File(cache, '00').listFiles().size() }
    int before = count()
    Map result = p.load().call([binary: binary.path, soft: '100%', hard: '0', cacheMaxSize: '0', keepRecent: '0s', dryRun: true])
    assert result.status == 'would-prune'
    assert result.dryRun == true
    assert result.prunedBytes == 0
    assert result.prunedFiles == 0
    assert result.wouldPruneFiles >= 12
    assert result.wouldPruneBytes >= 12 * 4096
    assert count() == before && before == 24
}

test('the hard limit fails the build with the tool\'s message') {
    Pipeline p = agent()
    boolean ran = false
    String message = expectError {
        p.load().call([binary: binary.path, soft: '100%', hard: '100%']) { ran = true }
    }
    assert message.startsWith('go-disk-guard: hard limit breached on ')
    assert !ran
}

test('failOnHard: false marks the build unstable and goes on') {
    Pipeline p = agent()
    boolean ran = false
    Map result = p.load().call([binary: binary.path, soft: '100%', hard: '100%', failOnHard: false]) {
        ran = true
    }
    assert ran
    assert result.exitCode == 3
    assert result.status == 'hard-limit'
    assert p.unstableMessages.size() == 1
    assert p.unstableMessages[0].startsWith('go-disk-guard: hard limit breached on ')
}

test('an unknown configuration key is an error naming it, and nothing runs') {
    Pipeline p = agent()
    String message = expectError { p.load().call(binary: binary.path, sfot: '10GB') }
    assert message.contains('sfot')
    assert message.contains('soft')
    assert p.count('sh') == 0
}

test('a failing binary fails the build with its stderr') {
    Pipeline p = agent()
    File bad = new File(p.root, 'bad-guard')
    bad.text = '#!/bin/sh\necho "something is badly wrong" >&2\nexit 1\n'
    bad.setExecutable(true)
    String message = expectError { p.load().call(binary: bad.path) }
    assert message.contains('exit code 1')
    assert message.contains('something is badly wrong')
}

test('invalid settings are the tool\'s usage errors, carried into the build failure') {
    Pipeline p = agent()
    String message = expectError { p.load().call(binary: binary.path, soft: '10XB') }
    assert message.contains('exit code 2')
    assert message.contains('GO_DISK_GUARD_SOFT')
}

test('a Windows agent runs the binary with bat and joins PATH with ;') {
    Pipeline p = agent()
    p.unix = false
    Map result = p.load().call(binary: binary.path, soft: '1KiB', hard: '0')
    assert result.status == 'ok'
    assert p.count('bat') == 1
    assert p.count('sh') == 0
    String script = p.calls.find { it[0] == 'bat' }[1]
    assert script.startsWith('@"%GO_DISK_GUARD_BIN%" check --emit jenkins')
    assert p.env.PATH == "${binary.parent};${p.root}/gopath/bin;/usr/bin:/bin".toString()
}

test('a go-disk-guard of the requested version on PATH is used as it is') {
    Pipeline p = agent()
    File bin = new File(p.root, 'bin')
    bin.mkdirs()
    ['ln', '-s', binary.path, new File(bin, 'go-disk-guard').path].execute().waitFor()
    p.base.PATH = "${bin}:/usr/bin:/bin".toString()
    p.env.PATH = p.base.PATH
    Map result = p.load().call(version: version, soft: '1KiB', hard: '0')
    assert result.status == 'ok'
    assert !p.calls.any { it[0] == 'sh' && it[1].contains('GDG_ARCHIVE') }
}

/** Serves `dir` over HTTP on loopback while `body` runs. */
def serve = { File dir, Closure body ->
    ServerSocket probe = new ServerSocket(0, 1, InetAddress.getByName('127.0.0.1'))
    int port = probe.localPort
    probe.close()
    Process server = ['python3', '-m', 'http.server', '--bind', '127.0.0.1', '--directory', dir.path, "${port}"].execute()
    try {
        for (int i = 0; i < 100; i++) {
            try {
                new Socket('127.0.0.1', port).close()
                break
            } catch (IOException ignored) {
                Thread.sleep(100)
            }
        }
        body("http://127.0.0.1:${port}".toString())
    } finally {
        server.destroy()
        server.waitFor()
    }
}

/** A release directory holding this binary as the Linux x86_64 archive, and SHA256SUMS. */
def release = { File root ->
    File dir = new File(root, 'release')
    File stage = new File(root, 'stage')
    dir.mkdirs()
    stage.mkdirs()
    ['cp', binary.path, new File(stage, 'go-disk-guard').path].execute().waitFor()
    String archive = "go-disk-guard-v${version}-x86_64-unknown-linux-musl.tar.gz"
    assert ['tar', '-czf', new File(dir, archive).path, '-C', stage.path, 'go-disk-guard'].execute().waitFor() == 0
    Process sums = ['bash', '-c', 'cd "$0" && sha256sum -- *.tar.gz > SHA256SUMS', dir.path].execute()
    assert sums.waitFor() == 0
    return dir
}

test('a download is verified against SHA256SUMS, installed per version, and reused') {
    Pipeline p = agent()
    File dir = release(p.root)
    serve(dir) { String url ->
        Map first = p.load().call(downloadUrl: url, version: version, soft: '1KiB', hard: '0')
        assert first.status == 'ok'
        File installed = new File(p.root, "tools/go-disk-guard/${version}")
        assert new File(installed, 'go-disk-guard').canExecute()
        assert new File(installed, '.verified').exists()
        int installs = p.calls.count { it[0] == 'sh' && it[1].contains('GDG_ARCHIVE') }
        assert installs == 1
        Map second = p.load().call(downloadUrl: url, version: version, soft: '1KiB', hard: '0')
        assert second.status == 'ok'
        assert p.calls.count { it[0] == 'sh' && it[1].contains('GDG_ARCHIVE') } == 1
    }
}

test('a download whose checksum does not match is refused and nothing is installed') {
    Pipeline p = agent()
    File dir = release(p.root)
    serve(dir) { String url ->
        String message = expectError {
            p.load().call(downloadUrl: url, version: version, sha256: '0' * 64)
        }
        assert message.contains('checksum')
        assert message.contains('does not match')
    }
    assert !new File(p.root, "tools/go-disk-guard/${version}").exists()
    assert p.count('sh') == p.calls.count { it[0] == 'sh' && !it[1].contains(' check ') }
}

test('a tampered archive does not match SHA256SUMS') {
    Pipeline p = agent()
    File dir = release(p.root)
    new File(dir, "go-disk-guard-v${version}-x86_64-unknown-linux-musl.tar.gz") << 'tampered'
    serve(dir) { String url ->
        String message = expectError { p.load().call(downloadUrl: url, version: version) }
        assert message.contains('does not match')
    }
}

/** No line of `text` but the first: a message that cannot fake a line of the log. */
def oneLine = { String text ->
    assert !text.contains('\n') && !text.contains('\r') && !text.contains('\u001b'): text
}

test('the tool\'s stderr in a failure message cannot fake log lines') {
    Pipeline p = agent()
    File bad = new File(p.root, 'bad-guard')
    bad.text = '#!/bin/sh\nprintf \'first\\n[Pipeline] End of Pipeline\\nFinished: SUCCESS\\r\\033[8mha:x\\n\' >&2\nexit 1\n'
    bad.setExecutable(true)
    String message = expectError { p.load().call(binary: bad.path) }
    oneLine(message)
    assert message.contains('first\\n[Pipeline] End of Pipeline\\nFinished: SUCCESS\\r\\x1b[8mha:x')
}

test('the tool\'s hard-limit message cannot fake log lines, failing or unstable') {
    Pipeline p = agent()
    File fake = new File(p.root, 'fake-guard')
    // A tool answering with a hostile message, as a tampered binary or document could.
    fake.text = '''#!/bin/sh
printf '{"env":{},"pathPrepend":[],"status":"hard-limit","exitCode":3,"message":"low\\n[Pipeline] fake\\r\\u001b[8mha:x"}' > "$GO_DISK_GUARD_EMIT_FILE"
exit 3
'''
    fake.setExecutable(true)
    String message = expectError { p.load().call(binary: fake.path) }
    oneLine(message)
    assert message == 'go-disk-guard: low\\n[Pipeline] fake\\r\\x1b[8mha:x'
    p.load().call(binary: fake.path, failOnHard: false)
    oneLine(p.unstableMessages[0])
}

test('an unknown key with a line break is shown on one line') {
    Pipeline p = agent()
    String message = expectError { p.load().call([binary: binary.path, ("x\n[Pipeline] fake".toString()): 1]) }
    oneLine(message)
    assert message.contains('x\\n[Pipeline] fake')
}

test('a version that is not a release version is refused before it names a file or a URL') {
    for (String bad : ['1.0.0\n[Pipeline] fake', '../../../etc', '1.0', '1.0.0/../x']) {
        Pipeline p = agent()
        String message = expectError { p.load().call(version: bad, soft: '1KiB', hard: '0') }
        oneLine(message)
        assert message.startsWith('goDiskGuard: version must be a release version'): message
        assert !p.calls.any { it[0] == 'sh' && it[1].contains('GDG_ARCHIVE') }
        assert !p.calls.any { it[0] == 'withEnv' && it[1].any { e -> e.startsWith('GDG_') } }
    }
}

test('a SHA256SUMS naming the archive twice or with a bad checksum installs nothing and fakes no line') {
    Pipeline p = agent()
    File dir = release(p.root)
    File sums = new File(dir, 'SHA256SUMS')
    String archive = "go-disk-guard-v${version}-x86_64-unknown-linux-musl.tar.gz"
    String genuine = sums.text
    sums.text = genuine + "[Pipeline]-fake  ${archive}\n"
    serve(dir) { String url ->
        String message = expectError { p.load().call(downloadUrl: url, version: version) }
        assert message.contains('does not match')
        oneLine(message)
    }
    assert !new File(p.root, "tools/go-disk-guard/${version}").exists()
    assert !p.log.join('').readLines().any { it.startsWith('[Pipeline]') }: p.log
}

// The agents' roots hold releases, tool caches and workspaces: hundreds of megabytes a run.
roots.each { it.deleteDir() }

println ''
println "${passed} passed, ${failed} failed"
System.exit(failed == 0 ? 0 : 1)
