// Build script for Functional.AD (Cake 7, no addins).
//
//   dotnet tool restore && dotnet cake                     # Test (the default)
//   dotnet cake --target=Examples
//   dotnet cake --target=Bench --benchArgs="--filter *Xor*"
//   dotnet cake --target=Fuzz --programs=1000
//
// Targets: Clean, Build, UnitTests, Tour, Pack, Consumer, Docs, Test (all of those), Examples, Bench, Fuzz.

using System.IO.Compression;

var target        = Argument("target", "Test");
var configuration = Argument("configuration", "Release");
var programs      = Argument("programs", 100000);
var benchArgs     = Argument("benchArgs", "");

var solution  = File("./Functional.AD.slnx");
var artifacts = Directory("./artifacts");

// Writes each test assembly's summary line ("Passed!  - Failed: 0, Passed: 11, ...")
// to the console (.ci/run parses it) and a .trx file per assembly under artifacts/TestResults.
DotNetTestSettings TestSettings(string resultsSubdirectory) => new DotNetTestSettings
{
    Configuration = configuration,
    Loggers = { "console;verbosity=minimal", "trx" },
    ResultsDirectory = artifacts + Directory("TestResults") + Directory(resultsSubdirectory),
};

Task("Clean")
    .Description("Deletes every bin/ and obj/ folder and artifacts/.")
    .Does(() =>
{
    var root = MakeAbsolute(Directory("./")).FullPath + "/";
    var outputs = GetDirectories("./**/bin")
        .Concat(GetDirectories("./**/obj"))
        .Where(d =>
        {
            var relative = d.FullPath.Substring(Math.Min(root.Length, d.FullPath.Length));
            return !relative.StartsWith(".git/") && !relative.StartsWith("tools/");
        })
        .ToList();
    if (DirectoryExists(artifacts))
    {
        outputs.Add(MakeAbsolute(artifacts));
    }
    foreach (var directory in outputs.Where(DirectoryExists))
    {
        Information("Deleting {0}", directory);
        DeleteDirectory(directory, new DeleteDirectorySettings { Recursive = true, Force = true });
    }
});

Task("Build")
    .Description("Builds the solution in Release.")
    .Does(() =>
{
    DotNetBuild(solution, new DotNetBuildSettings { Configuration = configuration });
});

Task("UnitTests")
    .Description("Builds the solution and runs its tests.")
    .Does(() =>
{
    DotNetTest(solution, TestSettings("Test"));
});

Task("Docs")
    .Description("Builds the API reference site with docfx (a local tool) into artifacts/site: XML docs of the three packages, the README tour, docs/. Warnings (broken references among them) are errors.")
    .Does(() =>
{
    var site = artifacts + Directory("site");
    var api = artifacts + Directory("docfx");
    foreach (var d in new[] { site, api })
    {
        if (DirectoryExists(d)) DeleteDirectory(d, new DeleteDirectorySettings { Recursive = true, Force = true });
    }
    var watch = System.Diagnostics.Stopwatch.StartNew();
    var exitCode = StartProcess("dotnet", new ProcessSettings
    {
        Arguments = new ProcessArgumentBuilder().Append("tool").Append("run").Append("docfx").Append("docfx.json").Append("--warningsAsErrors"),
        WorkingDirectory = MakeAbsolute(Directory("./")),
    });
    if (exitCode != 0)
    {
        throw new Exception($"docfx exited with {exitCode} (a warning, such as a broken link or cref, fails the build).");
    }
    if (!FileExists(site + File("index.html")) || !FileExists(site + Directory("api") + File("Functional.AD.Tree.html")))
    {
        throw new Exception("docfx finished but artifacts/site lacks index.html or api/Functional.AD.Tree.html.");
    }
    Information("API site built in {0:F0} s: {1}", watch.Elapsed.TotalSeconds, MakeAbsolute(site + File("index.html")));
});

// Test (what CI runs) is defined at the end, after the targets it depends on.

Task("Examples")
    .Description("Runs every program under Examples/ (each must exit 0: Rnn when its loss goes down, Iris and Digits on both backends when their held-out accuracy reaches 95% and 97%, NewtonSqrt when its derivative matches 1/(2 sqrt a)); Xor must converge for seeds 0..19.")
    .Does(() =>
{
    var projects = GetFiles("./Examples/*/*.csproj").OrderBy(p => p.FullPath).ToList();
    if (projects.Count == 0)
    {
        throw new Exception("No projects found under Examples/.");
    }

    var failures = new List<string>();

    // Runs one example with the given arguments and returns its exit code (never throws on it).
    int RunExample(FilePath project, string arguments)
    {
        var exitCode = 0;
        DotNetRun(project.FullPath, new ProcessArgumentBuilder().Append(arguments), new DotNetRunSettings
        {
            Configuration = configuration,
            NoBuild = true,
            HandleExitCode = code => { exitCode = code; return true; },
        });
        return exitCode;
    }

    foreach (var project in projects)
    {
        DotNetBuild(project.FullPath, new DotNetBuildSettings { Configuration = configuration });
        var name = project.GetFilenameWithoutExtension().FullPath;
        if (name == "Xor")
        {
            for (var seed = 0; seed < 20; seed++)
            {
                var exitCode = RunExample(project, $"--seed {seed} --quiet");
                Information("Xor seed {0}: {1}", seed, exitCode == 0 ? "converged" : $"exit code {exitCode}");
                if (exitCode != 0)
                {
                    failures.Add($"Xor --seed {seed} exited with {exitCode}");
                }
            }
            var torchExit = RunExample(project, "--seed 0 --quiet --backend torch");
            Information("Xor --backend torch: {0}", torchExit == 0 ? "converged" : $"exit code {torchExit}");
            if (torchExit != 0)
            {
                failures.Add($"Xor --seed 0 --backend torch exited with {torchExit}");
            }
        }
        else if (name == "Iris" || name == "Digits")
        {
            foreach (var backend in new[] { "cpu", "torch" })
            {
                var exitCode = RunExample(project, $"--backend {backend}");
                Information("{0} --backend {1}: exit code {2}", name, backend, exitCode);
                if (exitCode != 0)
                {
                    failures.Add($"{name} --backend {backend} exited with {exitCode}");
                }
            }
        }
        else
        {
            var exitCode = RunExample(project, "");
            Information("{0}: exit code {1}", name, exitCode);
            if (exitCode != 0)
            {
                failures.Add($"{name} exited with {exitCode}");
            }
        }
    }

    if (failures.Count > 0)
    {
        throw new Exception($"{failures.Count} example run(s) failed:{Environment.NewLine}  " +
                            string.Join(Environment.NewLine + "  ", failures));
    }
});

Task("Bench")
    .Description("Runs the BenchmarkDotNet suite (short job, in process); extra arguments via --benchArgs.")
    .Does(() =>
{
    // A --filter (or -f) in --benchArgs replaces the default filter '*'.
    var benchArgsFilter = System.Text.RegularExpressions.Regex.IsMatch(benchArgs, @"(^|\s)(--filter|-f)(\s|=|$)");
    var arguments = new ProcessArgumentBuilder();
    if (!benchArgsFilter)
    {
        arguments.Append("--filter").AppendQuoted("*");
    }
    arguments
        .Append("--job short")
        .Append("--inProcess")
        .Append("--iterationTime 100");
    if (!string.IsNullOrWhiteSpace(benchArgs))
    {
        arguments.Append(benchArgs);
    }
    DotNetRun("./Benchmarks/Benchmarks.csproj", arguments, new DotNetRunSettings { Configuration = configuration });
});

// The three packages, one version (Directory.Build.props), packed into artifacts/packages with their .snupkg.
var packagesDir = artifacts + Directory("packages");
string PackageVersion() => XmlPeek(File("./Directory.Build.props"), "/Project/PropertyGroup/Version");

Task("Pack")
    .Description("Packs Functional.AD, Functional.AD.Torch and Functional.AD.Testing into artifacts/packages and checks what each holds.")
    .Does(() =>
{
    var version = PackageVersion();
    EnsureDirectoryExists(packagesDir);
    CleanDirectory(packagesDir);
    // one pack of the solution: only the three projects with IsPackable=true are packed (Directory.Build.props)
    DotNetPack(solution, new DotNetPackSettings
    {
        Configuration = configuration,
        OutputDirectory = packagesDir,
    });

    var problems = new List<string>();
    foreach (var id in new[] { "Functional.AD", "Functional.AD.Torch", "Functional.AD.Testing" })
    {
        var nupkg = packagesDir + File($"{id}.{version}.nupkg");
        if (!FileExists(nupkg)) { problems.Add($"{id}.{version}.nupkg is missing"); continue; }
        if (!FileExists(packagesDir + File($"{id}.{version}.snupkg"))) problems.Add($"{id}.{version}.snupkg (symbols) is missing");
        using var zip = ZipFile.OpenRead(MakeAbsolute(nupkg).FullPath);
        var entries = zip.Entries.Select(e => e.FullName).ToList();
        var want = new List<string> { "README.md", $"lib/net10.0/{id}.dll", $"lib/net10.0/{id}.xml" };
        // Functional.AD also carries itself precompiled (ReadyToRun) for the runtime identifiers its csproj lists
        var readyToRun = id == "Functional.AD"
            ? XmlPeek(File("./Functional.AD/Functional.AD.csproj"), "/Project/PropertyGroup/FunctionalADReadyToRunRids").Split(';', StringSplitOptions.RemoveEmptyEntries).Select(rid => $"runtimes/{rid}/lib/net10.0/{id}.dll").ToList()
            : new List<string>();
        want.AddRange(readyToRun);
        foreach (var image in readyToRun.Where(entries.Contains))
        {
            using var copy = new MemoryStream();
            using (var entry = zip.GetEntry(image)!.Open()) entry.CopyTo(copy);
            copy.Position = 0;
            using var pe = new System.Reflection.PortableExecutable.PEReader(copy);
            if (!(pe.PEHeaders.CorHeader?.ManagedNativeHeaderDirectory.Size > 0)) problems.Add($"{id}: {image} is not a ReadyToRun image");
        }
        if (id == "Functional.AD.Torch") want.AddRange(new[] { "buildTransitive/Functional.AD.Torch.targets", "build/Functional.AD.Torch.targets" });
        problems.AddRange(want.Where(w => !entries.Contains(w)).Select(w => $"{id}: lacks {w}"));
        using var reader = new StreamReader(zip.GetEntry($"{id}.nuspec")!.Open());
        var nuspec = reader.ReadToEnd();
        foreach (var field in new[] { "<license type=\"expression\">MIT</license>", "<readme>README.md</readme>", $"<version>{version}</version>" })
            if (!nuspec.Contains(field)) problems.Add($"{id}: nuspec lacks {field}");
        // dependencies must not depend on the OS that packed the package: no native libtorch build among them
        if (System.Text.RegularExpressions.Regex.IsMatch(nuspec, "id=\"(libtorch|TorchSharp-c)", System.Text.RegularExpressions.RegexOptions.IgnoreCase))
            problems.Add($"{id}: depends on a platform's libtorch build; the consumer chooses it");
        Information("{0} {1}: {2} entries, README, XML docs{3}, symbols", id, version, entries.Count, id == "Functional.AD.Torch" ? ", buildTransitive targets" : id == "Functional.AD" ? ", ReadyToRun images for " + readyToRun.Count + " runtime identifiers" : "");
    }
    if (problems.Count > 0)
    {
        throw new Exception("Pack: " + string.Join(Environment.NewLine + "  ", problems));
    }
});

Task("Consumer")
    .Description("Restores the packed packages into a fresh xunit project outside the repository (consumer/), builds it and runs its tests: CPU jit against Torch, an FsCheck property written with Functional.AD.Testing, a checkpoint.")
    .IsDependentOn("Pack")
    .Does(() =>
{
    var version = PackageVersion();
    var dir = Directory(System.IO.Path.Combine(System.IO.Path.GetTempPath(), "functional-ad-consumer"));
    if (DirectoryExists(dir)) DeleteDirectory(dir, new DeleteDirectorySettings { Recursive = true, Force = true });
    EnsureDirectoryExists(dir);
    CopyFile("./consumer/ConsumerTests.cs", dir + File("ConsumerTests.cs"));
    CopyFile("./consumer/Consumer.csproj.template", dir + File("Consumer.csproj"));
    var packages = MakeAbsolute(packagesDir).FullPath;
    System.IO.File.WriteAllText(MakeAbsolute(dir + File("NuGet.config")).FullPath, $@"<?xml version=""1.0"" encoding=""utf-8""?>
<configuration>
  <packageSources>
    <clear />
    <add key=""artifacts"" value=""{packages}"" />
    <add key=""nuget.org"" value=""https://api.nuget.org/v3/index.json"" protocolVersion=""3"" />
  </packageSources>
</configuration>
");
    // the same version may have been restored before from an older pack: drop our packages from the global cache
    var globalPackages = EnvironmentVariable("NUGET_PACKAGES") ?? System.IO.Path.Combine(EnvironmentVariable("HOME") ?? EnvironmentVariable("USERPROFILE") ?? "", ".nuget", "packages");
    foreach (var id in new[] { "functional.ad", "functional.ad.torch", "functional.ad.testing" })
    {
        var cached = Directory(System.IO.Path.Combine(globalPackages, id, version));
        if (DirectoryExists(cached)) DeleteDirectory(cached, new DeleteDirectorySettings { Recursive = true, Force = true });
    }
    var settings = TestSettings("Consumer");
    settings.MSBuildSettings = new DotNetMSBuildSettings().WithProperty("FunctionalADVersion", version);
    var watch = System.Diagnostics.Stopwatch.StartNew();
    DotNetTest(MakeAbsolute(dir + File("Consumer.csproj")).FullPath, settings);
    Information("Consumer check: restored, built and tested in {0:F0} s", watch.Elapsed.TotalSeconds);
});

Task("Tour")
    .Description("Runs Examples/tour.cs, the one-file tour the README shows (a .NET 10 file-based program).")
    .Does(() =>
{
    var watch = System.Diagnostics.Stopwatch.StartNew();
    var exitCode = StartProcess("dotnet", new ProcessSettings
    {
        // Release, so the project reference reuses the Release build of Functional.AD
        Arguments = new ProcessArgumentBuilder().Append("run").Append("-c").Append(configuration).Append("--file").Append("Examples/tour.cs"),
        WorkingDirectory = MakeAbsolute(Directory("./")),
    });
    if (exitCode != 0)
    {
        throw new Exception($"dotnet run Examples/tour.cs exited with {exitCode}.");
    }
    Information("Tour ran in {0:F0} s", watch.Elapsed.TotalSeconds);
});

Task("Fuzz")
    .Description("Runs the tests in Category=Fuzz with FAD_FUZZ_PROGRAMS set from --programs (default 100000).")
    .Does(() =>
{
    var settings = TestSettings("Fuzz");
    settings.Filter = "Category=Fuzz";
    settings.EnvironmentVariables["FAD_FUZZ_PROGRAMS"] = programs.ToString(System.Globalization.CultureInfo.InvariantCulture);
    Information("FAD_FUZZ_PROGRAMS={0}", programs);
    var report = artifacts + File("fuzz-report.md");
    if (FileExists(report))
    {
        DeleteFile(report);
    }
    try
    {
        DotNetTest(solution, settings);
    }
    finally
    {
        // the table of programs checked and failures per oracle (written by the Category=Fuzz test)
        if (FileExists(report))
        {
            Information(System.IO.File.ReadAllText(MakeAbsolute(report).FullPath));
        }
    }
});

Task("Test")
    .Description("The default target and CI: the solution's tests, the tour, the consumer check on the packed packages, the API site.")
    .IsDependentOn("UnitTests")
    .IsDependentOn("Tour")
    .IsDependentOn("Consumer")
    .IsDependentOn("Docs");

RunTarget(target);
