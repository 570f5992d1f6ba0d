// Build script for Functional.AD (Cake 7, no addins).
//
//   dotnet tool restore && dotnet cake                     # Test (the default)
//   dotnet cake --target=Examples
//   dotnet cake --target=Bench --benchArgs="--filter *Xor*"
//   dotnet cake --target=Fuzz --programs=1000
//
// Targets: Clean, Build, Test, Examples, Bench, Pack, Fuzz.

using System.IO.Compression;

var target        = Argument("target", "Test");
var configuration = Argument("configuration", "Release");
var programs      = Argument("programs", 100000);
var benchArgs     = Argument("benchArgs", "");

var solution  = File("./Functional.AD.slnx");
var artifacts = Directory("./artifacts");
var corePackage = File("./Functional.AD/Functional.AD.csproj");

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

Task("Test")
    .Description("Builds the solution and runs every test (the default target).")
    .Does(() =>
{
    DotNetTest(solution, TestSettings("Test"));
});

Task("Examples")
    .Description("Runs every program under Examples/ (each must exit 0: Rnn when its loss goes down, NewtonSqrt when its derivative matches 1/(2 sqrt a)); Xor must converge for seeds 0..19.")
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
        else if (name == "Iris")
        {
            foreach (var backend in new[] { "cpu", "torch" })
            {
                var exitCode = RunExample(project, $"--backend {backend}");
                Information("Iris --backend {0}: exit code {1}", backend, exitCode);
                if (exitCode != 0)
                {
                    failures.Add($"Iris --backend {backend} exited with {exitCode}");
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

Task("Pack")
    .Description("Packs Functional.AD into artifacts/ and checks the package holds README.md and Functional.AD.xml.")
    .Does(() =>
{
    EnsureDirectoryExists(artifacts);
    DeleteFiles(GetFiles("./artifacts/Functional.AD.*.nupkg"));
    DotNetPack(corePackage, new DotNetPackSettings
    {
        Configuration = configuration,
        OutputDirectory = artifacts,
    });

    var packages = GetFiles("./artifacts/Functional.AD.*.nupkg")
        .Where(p => !p.FullPath.EndsWith(".symbols.nupkg"))
        .ToList();
    if (packages.Count != 1)
    {
        throw new Exception($"Expected one Functional.AD .nupkg in artifacts/, found {packages.Count}.");
    }

    var package = packages[0];
    using var zip = ZipFile.OpenRead(package.FullPath);
    var entries = zip.Entries.Select(e => e.FullName).ToList();
    var missing = new List<string>();
    if (!entries.Contains("README.md"))
    {
        missing.Add("README.md (at the package root)");
    }
    if (!entries.Any(e => e.StartsWith("lib/") && e.EndsWith("/Functional.AD.xml")))
    {
        missing.Add("lib/<tfm>/Functional.AD.xml");
    }
    if (missing.Count > 0)
    {
        throw new Exception($"{package.GetFilename()} lacks {string.Join(" and ", missing)}. " +
                            $"It holds: {string.Join(", ", entries)}");
    }
    Information("{0}: contains README.md and Functional.AD.xml", package.GetFilename());
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

RunTarget(target);
