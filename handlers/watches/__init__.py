"""The watch after a change: the metric checks of a watched environment compared before the change
and over the following minutes, told in the thread of the change's post."""
