"""Small plain CNN (conv-BN-ReLU, no depthwise convs: they are slow in this CPU torch build).

Four stages at strides 2/4/8/16 with `width`, 2x, 4x, 8x channels, two 3x3 convs
per stage, global average pooling, dropout, linear 3. `ExportModel` adds the
softmax so the ONNX output is probabilities. Only ReLU is used (ReLU6 exports
as a 3-input Clip at opset >= 11, which OpenCV 4.6 cannot load).
"""
import torch
from torch import nn


def conv_bn(cin, cout, stride):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class MaskNet(nn.Module):
    def __init__(self, width=32, num_classes=3, dropout=0.2):
        super().__init__()
        layers, cin = [], 3
        for i in range(4):
            cout = width * 2 ** i
            layers += [conv_bn(cin, cout, 2), conv_bn(cout, cout, 1)]
            cin = cout
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.drop = nn.Dropout(dropout)
        self.fc = nn.Linear(cin, num_classes)

    def forward(self, x):
        return self.fc(self.drop(torch.flatten(self.pool(self.features(x)), 1)))


class ExportModel(nn.Module):
    """Logits -> probabilities, for export."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        return torch.softmax(self.net(x), dim=1)
