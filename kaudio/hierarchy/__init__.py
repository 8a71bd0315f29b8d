"""Label hierarchies (coarse: [fine, ...]) for hierarchical multi-label tagging (Zhong et al.)."""
from kaudio.hierarchy.hierarchy import TAG_SEPARATOR, Hierarchy, TagError
from kaudio.hierarchy.classes import ClassList
from kaudio.hierarchy.spec_field import bundled_hierarchy_names, hierarchy_field, resolve_hierarchy

__all__ = ["TAG_SEPARATOR", "ClassList", "Hierarchy", "TagError", "bundled_hierarchy_names", "hierarchy_field", "resolve_hierarchy"]
