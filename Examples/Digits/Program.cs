// A small convolutional network for real handwritten digits (digits.csv.gz, see DATA.md), trained with Adam on either
// backend: conv 3x3 16, relu, max-pool 2, conv 3x3 32, relu, max-pool 2, dense 10.
// Run: dotnet run --project Examples/Digits -c Release -- [--backend cpu|torch] [--epochs N] [--seed N] [--out DIR]
// Exit code 0 when the accuracy on the held-out third of the data is at least 97%, 1 otherwise, 2 for bad arguments.
// Writes DIR/digits-loss.png (training and held-out loss per epoch) and DIR/digits-errors.png (the misclassified
// held-out digits, each with its predicted and true label).
using System.Globalization;
using System.IO.Compression;
using System.Linq.Expressions;
using Functional.AD;
using Functional.AD.Torch;
using Spectre.Console;
using static Functional.AD.Np;

string backend = "cpu", outDir = AppContext.BaseDirectory;
int epochs = 30, seed = 0;
const int BatchSize = 64;
for (int i = 0; i < args.Length; i++)
{
    if (args[i] == "--backend" && i + 1 < args.Length && args[i + 1] is "cpu" or "torch") backend = args[++i];
    else if (args[i] == "--epochs" && i + 1 < args.Length) epochs = int.Parse(args[++i], CultureInfo.InvariantCulture);
    else if (args[i] == "--seed" && i + 1 < args.Length) seed = int.Parse(args[++i], CultureInfo.InvariantCulture);
    else if (args[i] == "--out" && i + 1 < args.Length) outDir = args[++i];
    else { Console.Error.WriteLine($"unknown argument {args[i]}; usage: Digits [--backend cpu|torch] [--epochs N] [--seed N] [--out DIR]"); return 2; }
}
Directory.CreateDirectory(outDir);

// ---- the data: 1,797 images of 8x8 pixels (0..16, scaled to 0..1) and their digits. A stratified split: the third,
// sixth, ... example of each digit is held out, two thirds train.
var rows = ReadRows(Path.Combine(AppContext.BaseDirectory, "digits.csv.gz"));
var heldOut = rows.Where((r, i) => rows.Take(i).Count(q => q.Label == r.Label) % 3 == 2).ToArray();
var train = rows.Except(heldOut).ToArray();
Tensor Images(IEnumerable<(float[] Pixels, int Label)> set) { var s = set.ToArray(); return new(s.SelectMany(r => r.Pixels).ToArray(), [s.Length, 1, 8, 8]); }
Tensor Labels(IEnumerable<(float[] Pixels, int Label)> set) => new(set.Select(r => r.Label).ToArray());
Tensor xTest = Images(heldOut), yTest = Labels(heldOut);
AnsiConsole.MarkupLine($"digits: {rows.Length} images, {train.Length} for training, {heldOut.Length} held out; CNN on {backend}, Adam, batch {BatchSize}");

// ---- the model and its loss: the mean softmax cross-entropy over a batch, labels int32
Expression<Func<Cnn, Tensor, Tensor>> logits = (p, x) =>
    Let(MaxPool2d(Relu(Conv2d(x, p.K1, 1, 1) + p.B1), 2), h1 =>
    Let(MaxPool2d(Relu(Conv2d(h1, p.K2, 1, 1) + p.B2), 2), h2 =>
        MatMul(Reshape(h2, new[] { -1, 32 * 2 * 2 }), p.W) + p.B));
Expression<Func<Cnn, Tensor, Tensor, Tensor>> loss = (p, x, y) =>
    -Mean(Sum(LogSoftmax(logits.Invoke(p, x), -1) * OneHot(y, 10, DType.Float32), -1, false), null, false);
var adam = Optim.Adam<Cnn>(learningRate: 3e-3);
var valueAndGrad = loss.ValueAndGrad();
// one step: the loss, its gradient and the Adam update, as one expression (compiled whole by either backend)
Expression<Func<Cnn, AdamState<Cnn>, Tensor, Tensor, (Cnn, AdamState<Cnn>, Tensor)>> step =
    (p, s, x, y) => Let(valueAndGrad.Invoke(p, x, y), vg => Let(adam.Invoke(p, vg.Grad, s), u => ValueTuple.Create(u.Params, u.State, vg.Value)));

// He initialisation: each kernel and the dense layer scaled by sqrt(2 / fan-in); biases zero
var keys = PrngKey.Create(seed).Split(4);
var p = new Cnn(Rng.Normal(keys[0], [16, 1, 3, 3]) * Math.Sqrt(2.0 / 9), Zeros([16, 1, 1]),
    Rng.Normal(keys[1], [32, 16, 3, 3]) * Math.Sqrt(2.0 / 144), Zeros([32, 1, 1]),
    Rng.Normal(keys[2], [128, 10]) * Math.Sqrt(2.0 / 128), Zeros([10]));
var state = Optim.AdamInit(p);
Func<Cnn, AdamState<Cnn>, Tensor, Tensor, (Cnn, AdamState<Cnn>, Tensor)> run;
Func<Cnn, Tensor, Tensor, Tensor> evalLoss;
var device = TorchBackend.Cpu;
if (backend == "torch")
{
    run = step.JitTorch(device, 0, 1);   // parameters and Adam state donated: the old ones are freed at each step
    evalLoss = loss.JitTorch(device);
    p = TorchTensors.ToDevice(p, device);
    state = TorchTensors.ToDevice(state, device);
}
else
{
    run = Ad.Jit(step);
    evalLoss = Ad.Jit(loss);
}
Tensor OnBackend(Tensor t) => backend == "torch" ? t.ToDevice(device) : t;
var xTestB = OnBackend(xTest);
var yTestB = OnBackend(yTest);

// ---- training: each epoch a new shuffle of the training set, in full batches of 64 (the remainder is left for the next)
var trainLoss = new double[epochs];
var testLoss = new double[epochs];
var shuffle = new System.Random(seed);
AnsiConsole.Progress().Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
    .Start(ctx =>
    {
        var task = ctx.AddTask($"epochs on {backend}", maxValue: epochs);
        for (int e = 0; e < epochs; e++)
        {
            var order = train.OrderBy(_ => shuffle.Next()).ToArray();
            double sum = 0;
            int batches = order.Length / BatchSize;
            for (int b = 0; b < batches; b++)
            {
                var batch = order.Skip(b * BatchSize).Take(BatchSize).ToArray();
                (p, state, var l) = run(p, state, OnBackend(Images(batch)), OnBackend(Labels(batch)));
                sum += (double)l;
            }
            trainLoss[e] = sum / batches;
            testLoss[e] = (double)evalLoss(p, xTestB, yTestB);
            task.Description = $"epoch {e + 1}/{epochs}: loss {trainLoss[e]:F3}, held-out {testLoss[e]:F3}";
            task.Increment(1);
        }
    });

// ---- held-out accuracy: predicted digits (int32, Argmax) against the labels
var host = TorchTensors.ToHost(p);
var predicted = Argmax(logits.Compile()(host, xTest), 1).ToArray<int>();
var truth = yTest.ToArray<int>();
var errors = Enumerable.Range(0, truth.Length).Where(i => predicted[i] != truth[i]).ToArray();
double accuracy = 1.0 - (double)errors.Length / truth.Length;

// ---- plots: the loss curves, and a grid of the misclassified digits labelled "predicted (true)"
var lossPlot = new ScottPlot.Plot();
var xs = Enumerable.Range(1, epochs).Select(e => (double)e).ToArray();
lossPlot.Add.Scatter(xs, trainLoss).LegendText = "training";
lossPlot.Add.Scatter(xs, testLoss).LegendText = "held out";
lossPlot.ShowLegend();
lossPlot.Title($"Digits CNN, Adam on {backend}: mean cross-entropy");
lossPlot.XLabel("epoch");
lossPlot.YLabel("cross-entropy");
var lossPath = Path.Combine(outDir, "digits-loss.png");
lossPlot.SavePng(lossPath, 640, 400);

var grid = new ScottPlot.Plot();
int columns = Math.Max(1, (int)Math.Ceiling(Math.Sqrt(Math.Max(errors.Length, 1))));
for (int k = 0; k < errors.Length; k++)
{
    int i = errors[k], gx = k % columns, gy = k / columns;
    var pixels = new double[8, 8];
    for (int r = 0; r < 8; r++) for (int c = 0; c < 8; c++) pixels[r, c] = heldOut[i].Pixels[r * 8 + c];
    var hm = grid.Add.Heatmap(pixels);
    hm.Colormap = new ScottPlot.Colormaps.Grayscale();
    hm.Extent = new ScottPlot.CoordinateRect(gx * 10, gx * 10 + 8, -gy * 12 - 8, -gy * 12);
    var label = grid.Add.Text($"{predicted[i]} ({truth[i]})", gx * 10 + 4, -gy * 12 - 8.3);
    label.LabelFontSize = 15;
    label.LabelBold = true;
    label.LabelAlignment = ScottPlot.Alignment.UpperCenter;
}
grid.HideAxesAndGrid();
grid.Title($"Misclassified held-out digits ({errors.Length}): predicted (true)");
var errorsPath = Path.Combine(outDir, "digits-errors.png");
grid.SavePng(errorsPath, 120 + columns * 80, 160 + (int)Math.Ceiling((double)errors.Length / columns) * 96);

AnsiConsole.MarkupLine($"final training loss {trainLoss[^1]:F4}, held-out loss {testLoss[^1]:F4}");
AnsiConsole.MarkupLine($"held-out accuracy {truth.Length - errors.Length}/{truth.Length} = {accuracy:P1} (needs at least 97%)");
AnsiConsole.MarkupLine($"plots: {Markup.Escape(lossPath)}, {Markup.Escape(errorsPath)}");
return accuracy >= 0.97 ? 0 : 1;

static (float[] Pixels, int Label)[] ReadRows(string path)
{
    using var reader = new StreamReader(new GZipStream(File.OpenRead(path), CompressionMode.Decompress));
    var rows = new List<(float[], int)>();
    while (reader.ReadLine() is { } line)
    {
        if (line.Length == 0) continue;
        var f = line.Split(',').Select(v => int.Parse(v, CultureInfo.InvariantCulture)).ToArray();
        rows.Add((f[..64].Select(v => v / 16f).ToArray(), f[64]));
    }
    return rows.ToArray();
}

/// <summary>The network's parameters: two convolution kernels (OIHW) with their biases, and the dense layer.</summary>
record Cnn(Tensor K1, Tensor B1, Tensor K2, Tensor B2, Tensor W, Tensor B);
