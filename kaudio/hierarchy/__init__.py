"""Label hierarchies (coarse: [fine, ...]) for hierarchical multi-label tagging (Zhong et al.)."""
