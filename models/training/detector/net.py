"""The project's own face-and-mask detector: a small one-stage, anchor-free (FCOS-style) network.

Backbone: a 3x3 stem and depthwise-separable blocks (dw3x3-BN-ReLU, pw1x1-BN-ReLU) down to strides 8, 16
and 32; a light FPN (1x1 laterals, nearest 2x upsampling, add, one separable block per level); one head
shared by the three levels (one separable block, then 1x1 convs: 3 class logits, 4 box distances, 1
centerness logit). Box distances are ReLU(x) * stride (left, top, right, bottom of the point).

ExportDet adds the decoding to the graph, so the C++ side only thresholds and runs NMS: output
`detections` [1, N, 7] = x1, y1, x2, y2 (input pixels), then per class (mask, no_mask, incorrect)
sqrt(sigmoid(class) * sigmoid(centerness)). Only ops that OpenCV 4.6's ONNX importer reads: Conv, Relu,
Resize (nearest), Add, Mul, Sigmoid, Sqrt, Reshape, Concat, Transpose (no Clip, no Slice).
"""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

STRIDES = (8, 16, 32)
LABELS = ("mask", "no_mask", "incorrect")


def conv_bn(cin, cout, k=3, s=1, groups=1):
    return nn.Sequential(nn.Conv2d(cin, cout, k, s, k // 2, groups=groups, bias=False), nn.BatchNorm2d(cout),
                         nn.ReLU(inplace=True))


def sep(cin, cout, s=1):
    """Depthwise-separable block: dw3x3-BN-ReLU, pw1x1-BN-ReLU."""
    return nn.Sequential(conv_bn(cin, cin, 3, s, groups=cin), conv_bn(cin, cout, 1))


class Det(nn.Module):
    def __init__(self, width=1.0, neck=64):
        super().__init__()
        c = [max(8, int(round(v * width))) for v in (16, 32, 64, 128, 192)]
        self.stem = nn.Sequential(conv_bn(3, c[0], 3, 2), sep(c[0], c[1], 2), sep(c[1], c[1]))  # stride 4
        self.s8 = nn.Sequential(sep(c[1], c[2], 2), sep(c[2], c[2]), sep(c[2], c[2]))
        self.s16 = nn.Sequential(sep(c[2], c[3], 2), sep(c[3], c[3]), sep(c[3], c[3]))
        self.s32 = nn.Sequential(sep(c[3], c[4], 2), sep(c[4], c[4]))
        self.lat = nn.ModuleList([conv_bn(ci, neck, 1) for ci in (c[2], c[3], c[4])])
        self.smooth = nn.ModuleList([sep(neck, neck) for _ in STRIDES])
        self.head = nn.Sequential(sep(neck, neck), sep(neck, neck))
        self.cls = nn.Conv2d(neck, len(LABELS), 1)
        self.reg = nn.Conv2d(neck, 4, 1)
        self.ctr = nn.Conv2d(neck, 1, 1)
        nn.init.constant_(self.cls.bias, -4.6)  # prior 0.01 (focal loss)
        nn.init.constant_(self.reg.bias, 1.0)

    def forward(self, x):
        """List per stride of (class logits [B,3,H,W], box distances in pixels [B,4,H,W], ctr logit [B,1,H,W])."""
        c3 = self.s8(self.stem(x))
        c4 = self.s16(c3)
        c5 = self.s32(c4)
        p5 = self.lat[2](c5)
        p4 = self.lat[1](c4) + F.interpolate(p5, scale_factor=2.0, mode="nearest")
        p3 = self.lat[0](c3) + F.interpolate(p4, scale_factor=2.0, mode="nearest")
        out = []
        for p, sm, s in zip((p3, p4, p5), self.smooth, STRIDES):
            h = self.head(sm(p))
            out.append((self.cls(h), F.relu(self.reg(h)) * float(s), self.ctr(h)))
        return out


def grid(size, stride):
    """Point centres of one level: [2, H, W] (x, y) in input pixels."""
    n = size // stride
    v = (torch.arange(n, dtype=torch.float32) + 0.5) * stride
    ys, xs = torch.meshgrid(v, v, indexing="ij")
    return torch.stack([xs, ys])


class ExportDet(nn.Module):
    """Det plus decoding, for ONNX export at a fixed square input size."""

    def __init__(self, det, size):
        super().__init__()
        self.det = det
        self.size = size
        for i, s in enumerate(STRIDES):
            g = grid(size, s)
            self.register_buffer("pts%d" % i, torch.cat([g, g])[None])  # [1,4,H,W]: x, y, x, y
        self.register_buffer("sign", torch.tensor([-1.0, -1.0, 1.0, 1.0]).view(1, 4, 1, 1))

    def forward(self, x):
        outs = []
        for i, (cls, reg, ctr) in enumerate(self.det(x)):
            n = (self.size // STRIDES[i]) ** 2
            box = reg * self.sign + getattr(self, "pts%d" % i)
            score = torch.sqrt(torch.sigmoid(cls) * torch.sigmoid(ctr))
            outs.append(torch.cat([box, score], 1).reshape(1, 4 + len(LABELS), n))
        return torch.cat(outs, 2).transpose(1, 2)


def param_count(model):
    return sum(p.numel() for p in model.parameters())


def state_to_numpy(model):
    return {k: v.detach().cpu().float().numpy() if v.is_floating_point() else v.detach().cpu().numpy()
            for k, v in model.state_dict().items()}


def load_numpy_state(model, arrays):
    sd = {k: torch.from_numpy(np.asarray(arrays[k])) for k in model.state_dict().keys()}
    model.load_state_dict(sd)
    return model
