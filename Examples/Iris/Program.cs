// An MLP classifier for Fisher's Iris data (iris.csv, see DATA.md), trained with Adam on either backend.
// Run: dotnet run --project Examples/Iris -c Release -- [--backend cpu|torch] [--epochs N] [--plot loss.png] [--seed N]
// Exit code 0 when the accuracy on the held-out third of the data is above 95% and the model saved to a checkpoint
// reloads with identical predictions, 1 otherwise, 2 for bad arguments.
using System.Globalization;
using System.Linq.Expressions;
using Functional.AD;
using Functional.AD.Torch;
using Spectre.Console;
using static Functional.AD.Np;

string backend = "cpu", plotPath = Path.Combine(AppContext.BaseDirectory, "iris-loss.png");
int epochs = 300, seed = 0;
for (int i = 0; i < args.Length; i++)
{
    if (args[i] == "--backend" && i + 1 < args.Length && args[i + 1] is "cpu" or "torch") backend = args[++i];
    else if (args[i] == "--epochs" && i + 1 < args.Length) epochs = int.Parse(args[++i], CultureInfo.InvariantCulture);
    else if (args[i] == "--seed" && i + 1 < args.Length) seed = int.Parse(args[++i], CultureInfo.InvariantCulture);
    else if (args[i] == "--plot" && i + 1 < args.Length) plotPath = args[++i];
    else { Console.Error.WriteLine($"unknown argument {args[i]}; usage: Iris [--backend cpu|torch] [--epochs N] [--plot PATH] [--seed N]"); return 2; }
}

// ---- the data: standardised measurements, int32 species labels, and a bool mask of the training rows (a stratified
// split: every third row of each species is held out)
string[] species = ["setosa", "versicolor", "virginica"];
var rows = File.ReadAllLines(Path.Combine(AppContext.BaseDirectory, "iris.csv")).Skip(1).Where(l => l.Length > 0)
    .Select(l => l.Split(',')).Select(f => (X: f[..4].Select(v => double.Parse(v, CultureInfo.InvariantCulture)).ToArray(), Y: Array.IndexOf(species, f[4])))
    .ToArray();
var test = rows.Where((r, i) => rows.Take(i).Count(q => q.Y == r.Y) % 3 == 2).ToArray();
var train = rows.Except(test).ToArray();
var mean = Enumerable.Range(0, 4).Select(j => train.Average(r => r.X[j])).ToArray();
var std = Enumerable.Range(0, 4).Select(j => Math.Sqrt(train.Average(r => (r.X[j] - mean[j]) * (r.X[j] - mean[j])))).ToArray();
Tensor Features((double[] X, int Y)[] set) =>
    new(set.SelectMany(r => r.X.Select((v, j) => (float)((v - mean[j]) / std[j]))).ToArray(), [set.Length, 4]);
Tensor xAll = Features(rows), labels = new(rows.Select(r => r.Y).ToArray()), xTest = Features(test);
var trainMask = new Tensor(rows.Select(r => !test.Contains(r)).ToArray());

// ---- the model: 4 -> 16 tanh -> 3, softmax cross-entropy
Expression<Func<Mlp, Tensor, Tensor>> logits = (p, x) => MatMul(Tanh(MatMul(x, p.W1) + p.B1), p.W2) + p.B2;
// the mean over the rows the mask keeps; the int32 labels become one-hot rows inside the loss
Expression<Func<Mlp, Tensor, Tensor, Tensor, Tensor>> loss = (p, x, y, keep) =>
    -Sum(Sum(LogSoftmax(logits.Invoke(p, x), -1) * OneHot(y, 3, DType.Float32), -1, false) * keep.AsType(DType.Float32), null, false)
    / Sum(keep, null, false).AsType(DType.Float32);
var adam = Optim.Adam<Mlp>(learningRate: 0.02);
var valueAndGrad = loss.ValueAndGrad();
// one step: the loss, its gradient and the Adam update, as one expression (jitted whole on Torch)
Expression<Func<Mlp, AdamState<Mlp>, Tensor, Tensor, Tensor, (Mlp, AdamState<Mlp>, Tensor)>> step =
    (p, s, x, y, keep) => Let(valueAndGrad.Invoke(p, x, y, keep), vg => Let(adam.Invoke(p, vg.Grad, s), u => ValueTuple.Create(u.Params, u.State, vg.Value)));

var key = PrngKey.Create(seed);
var p = Functional.AD.Tree.Normal(key, new Mlp(Zeros([4, 16]), Zeros([16]), Zeros([16, 3]), Zeros([3])), scale: 0.5);
var state = Optim.AdamInit(p);
Func<Mlp, AdamState<Mlp>, Tensor, Tensor, Tensor, (Mlp, AdamState<Mlp>, Tensor)> run;
if (backend == "torch")
{
    var device = TorchBackend.Cpu;
    run = step.JitTorch(device, 0, 1);   // parameters and Adam state donated: the old ones are freed at each step
    p = TorchTensors.ToDevice(p, device);
    state = TorchTensors.ToDevice(state, device);
    (xAll, labels, trainMask) = (xAll.ToDevice(device), labels.ToDevice(device), trainMask.ToDevice(device));
}
else run = step.Compile();

var losses = new double[epochs];
AnsiConsole.Progress().Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
    .Start(ctx =>
    {
        var task = ctx.AddTask($"Adam on {backend}", maxValue: epochs);
        for (int e = 0; e < epochs; e++)
        {
            (p, state, var l) = run(p, state, xAll, labels, trainMask);
            losses[e] = (double)l;
            task.Increment(1);
        }
    });

var predictions = logits.Compile()(TorchTensors.ToHost(p), xTest);
// the predicted classes are int32 (Argmax), compared with the held-out int32 labels
var testLabels = new Tensor(test.Select(r => r.Y).ToArray());
int correct = (int)(double)Sum(Equal(Argmax(predictions, 1), testLabels));
double accuracy = (double)correct / test.Length;

// ---- a checkpoint: the trained parameters and Adam's state in one safetensors file (tensors named W1, B1, ...,
// State.M.W1, ...), reloaded into a fresh model that must predict exactly what the trained one does
var checkpoint = Path.Combine(AppContext.BaseDirectory, "iris.safetensors");
Functional.AD.Tree.Save(checkpoint, (Params: TorchTensors.ToHost(p), State: TorchTensors.ToHost(state)));
var (reloaded, reloadedState) = Functional.AD.Tree.Load<(Mlp, AdamState<Mlp>)>(checkpoint);
var reloadedPredictions = logits.Compile()(reloaded, xTest);
bool sameAfterReload = predictions.ToFloatArray().SequenceEqual(reloadedPredictions.ToFloatArray()) && (double)reloadedState.Step == epochs;
AnsiConsole.MarkupLine($"checkpoint {Markup.Escape(checkpoint)}: {new FileInfo(checkpoint).Length} bytes, reloaded model predicts {(sameAfterReload ? "identically" : "[red]differently[/]")}");

var plot = new ScottPlot.Plot();
plot.Add.Scatter(Enumerable.Range(1, epochs).Select(e => (double)e).ToArray(), losses);
plot.Title($"Iris MLP, Adam on {backend}: training loss");
plot.XLabel("epoch");
plot.YLabel("cross-entropy");
plot.SavePng(plotPath, 640, 400);

AnsiConsole.MarkupLine($"final training loss {losses[^1]:F4}; test accuracy {correct}/{test.Length} = {accuracy:P1} (needs > 95%)");
AnsiConsole.MarkupLine($"loss curve: {Markup.Escape(plotPath)}");
return accuracy > 0.95 && sameAfterReload ? 0 : 1;

/// <summary>The classifier's parameters: a pytree of four tensors.</summary>
record Mlp(Tensor W1, Tensor B1, Tensor W2, Tensor B2);
