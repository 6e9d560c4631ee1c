"""Open-vocabulary semantic labels (XMask3D, issue 14): labelled scenes, the frozen
encoders' superpoint statistics, the head's contrastive training and its evaluation."""
